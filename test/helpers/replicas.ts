/**
 * Several replicas of the real server sharing one Redis, against one Clerk emulator: what a deployment behind a
 * load balancer looks like. Clerk's webhook endpoint is replica A only (Clerk sends each webhook to one endpoint);
 * tests can also deliver a signed webhook to any replica themselves.
 *
 * The replicas are apps in this process (`createApp`, each listening on its own port), like `harness.ts`: each has
 * its own cache, upstream, Clerk client, webhook route and its own two ioredis connections, and they share nothing
 * but Redis and the emulator. In-process rather than child processes because the suites need to read each
 * replica's cache and metrics directly and start a replica mid-test quickly; "Redis killed" is still real: the
 * redis-server process is SIGKILLed and every replica's connections see it die.
 */
import { randomBytes } from 'node:crypto';
import { type ClerkClient, createClerkClient } from '@clerk/backend';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { ClerkEmulator, StartEmulatorOptions } from '@team-graphql/clerk-emulator';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import { type App, type AppConfig, createApp } from '../../src/app.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import {
  type GraphQLResponse,
  listenBoth,
  metricOf,
  postSignedWebhook,
  queryGraphQL,
  testAppConfig,
} from './harness.js';
import { type RedisProcess, startRedis } from './redis.js';

export interface Replica {
  name: string;
  url: string;
  /** The admin listener: /metrics and the probes. */
  adminUrl: string;
  app: App;
  query<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables> | string,
    options?: { token?: string | null; variables?: TVariables },
  ): Promise<GraphQLResponse<TData>>;
  /** A series' value from this replica's `GET /metrics` (summed over label sets matching `labels`). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Posts a Svix-signed webhook to this replica; resolves with the route's answer. */
  deliver(
    type: string,
    data: Record<string, unknown>,
    messageId?: string,
  ): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export interface Cluster {
  emulator: ClerkEmulator;
  /** The real Clerk SDK pointed at the emulator: writes through it send their webhooks to replica A. */
  clerk: ClerkClient;
  redis: RedisProcess;
  /** The cluster's REDIS_KEY_PREFIX (its own per cluster). */
  keyPrefix: string;
  replicas: Replica[];
  /**
   * Starts one more replica (same Redis, not a webhook endpoint), with the cluster's configuration or, where
   * `config` says otherwise, its own (a wrong password in `redisUrl`, say).
   */
  addReplica(name: string, config?: Partial<AppConfig>): Promise<Replica>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  /** How many replicas to start (named A, B, C, …). @default 3 */
  replicas?: number;
  emulator?: StartEmulatorOptions;
  config?: Partial<AppConfig>;
  logger?: Logger;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const redis = await startRedis();
  const emulator = await startClerkEmulator({ seed: 'demo', ...options.emulator });
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const config: AppConfig = {
    ...testAppConfig(emulator, webhookSecret),
    clerkQueueMaxPerCaller: 1000,
    graphiqlEnabled: false,
    redisUrl: redis.url,
    // Its own namespace, so nothing a previous suite left in this Redis can be read.
    redisKeyPrefix: `test-${randomBytes(4).toString('hex')}:`,
    ...options.config,
  };
  const logger = options.logger ?? createLogger('silent');
  const replicas: Replica[] = [];

  async function addReplica(name: string, own: Partial<AppConfig> = {}): Promise<Replica> {
    const app = createApp({ config: { ...config, ...own }, logger });
    const [url, adminUrl] = await listenBoth(app);
    const replica: Replica = {
      name,
      url,
      adminUrl,
      app,
      query: (document, options) => queryGraphQL(url, document, options),
      metric: (metricName, labels) => metricOf(adminUrl, metricName, labels),
      async deliver(type, data, messageId = `msg_${randomBytes(8).toString('hex')}`) {
        const body = JSON.stringify({ type, data, object: 'event' });
        const response = await postSignedWebhook(url, body, { id: messageId, secret: webhookSecret });
        return { status: response.status, body: await response.json() };
      },
      close: () => app.shutdown({ graceMs: 100 }),
    };
    replicas.push(replica);
    return replica;
  }

  const count = options.replicas ?? 3;
  for (let index = 0; index < count; index++) await addReplica(String.fromCharCode(65 + index));
  const first = replicas[0] as Replica;
  // Clerk sends each webhook to one endpoint: replica A.
  emulator.control.addWebhookEndpoint({ url: `${first.url}/webhooks/clerk`, secret: webhookSecret });
  // Every replica has subscribed to the bus before a test begins.
  await Promise.all(
    replicas.map((replica) => until(() => replica.metric('redis_up').then((up) => up === 1))),
  );

  return {
    emulator,
    clerk: createClerkClient({
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      telemetry: { disabled: true },
    }),
    redis,
    keyPrefix: config.redisKeyPrefix,
    replicas,
    addReplica,
    async close() {
      await Promise.all(replicas.map((replica) => replica.close()));
      await emulator.close();
      await redis.stop();
    },
  };
}

/**
 * Polls `check` until it is true: for state that changes on another replica after a message crosses Redis, where
 * no event of this process can be awaited. Fails after `timeoutMs`.
 */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
