/**
 * Starts the real server and the Clerk emulator on ephemeral ports and talks to them over HTTP, as a frontend
 * and as Clerk would. No module of ours is mocked.
 */

import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ClerkClient, createClerkClient } from '@clerk/backend';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { ClerkEmulator, StartEmulatorOptions } from '@team-graphql/clerk-emulator';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import { print } from 'graphql';
import { Webhook } from 'svix';
import { type App, type AppConfig, createApp } from '../../src/app.js';
import type { RootPage } from '../../src/http/handler.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface GraphQLResponse<TData> {
  status: number;
  headers: Headers;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface Harness {
  /** The public listener: /graphql, /webhooks/clerk, the probes. */
  url: string;
  /** The admin listener: /metrics and the probes. */
  adminUrl: string;
  emulator: ClerkEmulator;
  /** The real Clerk SDK pointed at the emulator: writes through it emit the webhooks Clerk would. */
  clerk: ClerkClient;
  app: App;
  /** The configuration the app was built with, to build a second app against the same emulator. */
  config: AppConfig;
  webhookSecret: string;
  /** With `gateClerk`: the hop between the server and the emulator, which can hold Clerk's answers. */
  gate?: ClerkGate;
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
  /** Route the server's Clerk calls through a ClerkGate (`harness.gate`). The harness's own SDK client stays direct. */
  gateClerk?: boolean;
  /** Answers `GET /` (the app's `rootPage`). @default the app's JSON pointer */
  rootPage?: RootPage;
}

/**
 * An HTTP hop between the server and the emulator that can hold Clerk's answers on their way back, as a slow network
 * would: the emulator answers from the data it holds at that moment, and the server gets the answer only once the
 * test releases it. Gives tests exact interleavings ("Clerk answered, then the webhook landed, then the answer
 * arrived") without sleeps.
 */
export interface ClerkGate {
  /** Holds the answer to the next request that matches (path without the query, and the query), until `release()`. */
  hold(matches: (path: string, query: URLSearchParams) => boolean): HeldAnswer;
  /** Releases every held answer and stops (`Harness.close()` does this). */
  close(): Promise<void>;
}

export interface HeldAnswer {
  /** Resolves once the emulator has answered the request (its body is final) and the answer is being held. */
  answered: Promise<void>;
  release(): void;
}

interface Hold {
  matches: (path: string, query: URLSearchParams) => boolean;
  answered: () => void;
  released: Promise<void>;
}

export async function startClerkGate(target: string): Promise<ClerkGate & { url: string }> {
  const holds: Hold[] = [];
  const releases: (() => void)[] = [];
  const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const outgoing = httpRequest(`${target}${path}`, { method, headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () =>
          resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
        );
        answer.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  const server = createServer(async (request, response) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const path = request.url ?? '/';
      const answer = await forward(request.method ?? 'GET', path, request.headers, Buffer.concat(chunks));
      const { pathname, searchParams } = new URL(path, target);
      const index = holds.findIndex((hold) => hold.matches(pathname, searchParams));
      const hold = index === -1 ? undefined : holds.splice(index, 1)[0];
      if (hold) {
        hold.answered();
        await hold.released;
      }
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    } catch {
      response.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold(matches) {
      let answered = () => {};
      let release = () => {};
      const held: HeldAnswer = {
        answered: new Promise<void>((resolve) => {
          answered = resolve;
        }),
        release: () => release(),
      };
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      releases.push(release);
      holds.push({ matches, answered, released });
      return held;
    },
    async close() {
      for (const release of releases) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The configuration every test app starts from: the emulator's keys, limits generous enough that only the suites
 * about them meet them, nothing shared. Suites override parts (`startHarness({ config })`, the replicas harness).
 */
export function testAppConfig(emulator: ClerkEmulator, webhookSecret: string): AppConfig {
  return {
    production: false,
    clerkSecretKey: emulator.secretKey,
    clerkApiUrl: emulator.url,
    clerkJwtKey: emulator.publicKeyPem,
    clerkAuthorizedParties: [],
    clerkWebhookSigningSecret: webhookSecret,
    cacheTtlSeconds: 300,
    cacheStaleGraceSeconds: 3600,
    clerkRateLimit: 1000,
    clerkRateLimitWindowSeconds: 10,
    cacheMaxMembers: 1_000_000,
    // The emulator runs on this machine's clock.
    cacheClockSkewMs: 0,
    clerkTimeoutMs: 2000,
    // Generous, so the suites written before the request deadline (1,000 cold organizations queued for the budget)
    // keep their meaning; the deadline, queue and breaker suites set their own.
    requestDeadlineMs: 30_000,
    clerkQueueMax: 10_000,
    clerkQueueMaxPerCaller: 10,
    clerkMaxSockets: 32,
    // Off: suites that inject Clerk faults test one failure at a time and must not find a circuit another test opened.
    clerkBreakerFailures: 0,
    clerkBreakerCooldownMs: 10_000,
    webhookRefreshDebounceMs: 50,
    subscriptionMaxLifetimeSeconds: 900,
    subscriptionMaxStreamsPerUser: 20,
    subscriptionMaxStreams: 10_000,
    graphiqlEnabled: true,
    introspectionEnabled: true,
    corsOrigins: [],
    requestBodyIdleTimeoutMs: 10_000,
    requestBodyBudgetMb: 32,
    // No Redis: one process. The other settings are what a replica would use (test/helpers/replicas.ts sets the URL).
    redisUrl: undefined,
    redisTimeoutMs: 250,
    redisHeartbeatMs: 1000,
    redisOutageEvidenceMs: 1000,
    redisKeyPrefix: 'team-graphql:',
    clerkBudgetAssumedReplicas: 3,
    trustedDocumentsManifest: undefined,
    trustedDocumentsOnly: false,
    // On, as in production: every suite's requests go through the fast path.
    preparedResponsesMax: 10_000,
    preparedResponsesMaxMb: 64,
    preparedResponsesPerViewer: 100,
    idempotencyMaxMb: 16,
    writeRateLimitPerMinute: 30,
    clerkInvitationCreatesPerHour: 250,
    clerkInvitationBulkCallsPerHour: 50,
  };
}

/**
 * Clerk reads of these paths since the last `resetCounters()`. Only these: a background re-read of another test's
 * organization (refresh-ahead after its webhook) may land in between.
 */
export const readsOf = (harness: Harness, ...paths: string[]) =>
  Object.fromEntries(
    paths.map((path) => [
      path,
      harness.emulator.control.requestLog().filter((entry) => entry.path === path).length,
    ]),
  );
/** The Clerk paths of an organization's roster and of a user's own membership list. */
export const rosterPath = (organizationId: string) => `/v1/organizations/${organizationId}/memberships`;
export const listPath = (userId: string) => `/v1/users/${userId}/organization_memberships`;

export interface SignedDelivery {
  /** The `svix-id`. @default a new random one */
  id?: string;
  /** The endpoint's signing secret (another one: a forged delivery). */
  secret: string;
  /** The signature's timestamp. @default now */
  date?: Date;
  /** Sent instead of the signed body (tampering). @default the signed body */
  sentBody?: string;
  /** The Content-Type header. @default application/json */
  contentType?: string;
}

/** POSTs `body` to the server's webhook route, Svix-signed as Clerk's deliveries are. */
export function postSignedWebhook(url: string, body: string, delivery: SignedDelivery): Promise<Response> {
  const id = delivery.id ?? `msg_${randomBytes(12).toString('hex')}`;
  const date = delivery.date ?? new Date();
  return fetch(`${url}/webhooks/clerk`, {
    method: 'POST',
    headers: {
      'content-type': delivery.contentType ?? 'application/json',
      'svix-id': id,
      'svix-timestamp': String(Math.floor(date.getTime() / 1000)),
      'svix-signature': new Webhook(delivery.secret).sign(id, date, body),
    },
    body: delivery.sentBody ?? body,
  });
}

/**
 * A series of the server's `GET /metrics` (at `adminUrl`, the admin listener), summed over the label sets that match
 * `labels` (0 when absent).
 */
export async function metricOf(
  adminUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) sum += Number(match[3]);
  }
  return sum;
}

/** POSTs a GraphQL document to `${url}/graphql` as a client would, and returns the status, headers and body. */
export async function queryGraphQL<TData, TVariables extends Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<TData, TVariables> | string,
  {
    token,
    variables,
    headers = {},
  }: { token?: string | null; variables?: TVariables; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<TData>> {
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
  const body = (await response.json()) as Omit<GraphQLResponse<TData>, 'status' | 'headers'>;
  return { status: response.status, headers: response.headers, ...body };
}

/** Listens with an app's public and admin listeners on free loopback ports; returns their base URLs. */
export async function listenBoth(app: App): Promise<[url: string, adminUrl: string]> {
  const urls: string[] = [];
  for (const server of [app.server, app.adminServer]) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  return urls as [string, string];
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const emulator = await startClerkEmulator({ seed: 'demo', ...options.emulator });
  const gate = options.gateClerk ? await startClerkGate(emulator.url) : undefined;
  const config: AppConfig = {
    ...testAppConfig(emulator, webhookSecret),
    clerkApiUrl: gate?.url ?? emulator.url,
    clerkJwtKey: options.useJwks ? undefined : emulator.publicKeyPem,
    ...options.config,
  };
  const app = createApp({
    config,
    logger: options.logger ?? createLogger('silent'),
    ...(options.rootPage ? { rootPage: options.rootPage } : {}),
  });
  const [url, adminUrl] = await listenBoth(app);
  emulator.control.addWebhookEndpoint({ url: `${url}/webhooks/clerk`, secret: webhookSecret });

  return {
    url,
    adminUrl,
    emulator,
    clerk: createClerkClient({
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      telemetry: { disabled: true },
    }),
    app,
    config,
    webhookSecret,
    ...(gate ? { gate } : {}),
    query: (document, options) => queryGraphQL(url, document, options),
    async close() {
      await app.shutdown({ graceMs: 100 });
      await gate?.close();
      await emulator.close();
    },
  };
}
