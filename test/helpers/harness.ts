/**
 * Starts the real server and the Clerk emulator on ephemeral ports and talks to them over HTTP, as a frontend
 * and as Clerk would. No module of ours is mocked.
 */

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type ClerkClient, createClerkClient } from '@clerk/backend';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { ClerkEmulator, StartEmulatorOptions } from '@team-graphql/clerk-emulator';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import { print } from 'graphql';
import { type App, type AppConfig, createApp } from '../../src/app.js';
import { createLogger, type Logger } from '../../src/logger.js';

export interface GraphQLResponse<TData> {
  status: number;
  headers: Headers;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface Harness {
  url: string;
  emulator: ClerkEmulator;
  /** The real Clerk SDK pointed at the emulator: writes through it emit the webhooks Clerk would. */
  clerk: ClerkClient;
  app: App;
  /** The configuration the app was built with, to build a second app against the same emulator. */
  config: AppConfig;
  webhookSecret: string;
  /** Sends a query as a frontend would (POST application/json). */
  query<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables> | string,
    options?: { token?: string | null; variables?: TVariables; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<TData>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  emulator?: StartEmulatorOptions;
  config?: Partial<AppConfig>;
  /** Verify tokens through the emulator's JWKS instead of the PEM. */
  useJwks?: boolean;
  /** Default: silent. */
  logger?: Logger;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const emulator = await startClerkEmulator({ seed: 'demo', ...options.emulator });
  const config: AppConfig = {
    production: false,
    clerkSecretKey: emulator.secretKey,
    clerkApiUrl: emulator.url,
    clerkJwtKey: options.useJwks ? undefined : emulator.publicKeyPem,
    clerkAuthorizedParties: [],
    clerkWebhookSigningSecret: webhookSecret,
    cacheTtlSeconds: 300,
    cacheStaleGraceSeconds: 3600,
    cacheForceRefreshIntervalSeconds: 5,
    clerkRateLimit: 1000,
    clerkRateLimitWindowSeconds: 10,
    cacheMaxMembers: 1_000_000,
    clerkTimeoutMs: 2000,
    webhookRefreshDebounceMs: 50,
    graphiqlEnabled: true,
    introspectionEnabled: true,
    corsOrigins: [],
    ...options.config,
  };
  const app = createApp({ config, logger: options.logger ?? createLogger('silent') });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  emulator.control.addWebhookEndpoint({ url: `${url}/webhooks/clerk`, secret: webhookSecret });

  return {
    url,
    emulator,
    clerk: createClerkClient({
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      telemetry: { disabled: true },
    }),
    app,
    config,
    webhookSecret,
    async query(document, { token, variables, headers = {} } = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResponse<never>, 'status' | 'headers'>;
      return { status: response.status, headers: response.headers, ...body };
    },
    async close() {
      await app.shutdown(100);
      await emulator.close();
    },
  };
}
