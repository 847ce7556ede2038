/**
 * Composition root: builds the Clerk client, the team cache, the token verifier, Yoga, the webhook route and the
 * metrics, and routes HTTP between them. Returns a node http.Server that the caller listens with.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createClerkClient } from '@clerk/backend';
import { createKeySet } from './auth/jwks.js';
import { createTokenVerifier } from './auth/verifier.js';
import { installClerkHttp } from './clerk/http-agent.js';
import { createClerkKeyReader } from './clerk/keys.js';
import { createClerkSource } from './clerk/source.js';
import { createSharedBudget } from './clerk/upstream/shared-budget.js';
import { createUpstream, currentCallSignal, type Upstream, type UpstreamObserver } from './clerk/upstream.js';
import type { Config } from './config.js';
import { createFastPath } from './fast-path/fast-path.js';
import { createPreparedResponses } from './fast-path/prepared-responses.js';
import { loadTrustedDocuments } from './fast-path/trusted-documents.js';
import { createGraphiQLPage } from './graphql/graphiql-page.js';
import { createTeamYoga, type GraphiQLSettings, MAX_REQUEST_BODY_BYTES } from './graphql/yoga.js';
import { type BodyGuard, createBodyGuard, refuse } from './http/body-guard.js';
import { answerClientErrors } from './http/client-errors.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import {
  budgetNamespace,
  createSharedState,
  registerSharedBudgetMetrics,
  type SharedState,
} from './shared-state/index.js';
import { createLiveStreams, type LiveStreams, notifyingRevocations } from './subscriptions/live-streams.js';
import { createTeamEventBus } from './subscriptions/team-events.js';
import { createTeamCache, type TeamCache } from './team/cache.js';
import { createRevocations, type Revocations } from './team/revocations.js';
import { createEffectApplier } from './webhooks/apply-effects.js';
import { createWebhookRoute, DEDUPE_WINDOW_MS, WEBHOOK_PATH, type WebhookRoute } from './webhooks/route.js';

/** Optional for an app: without them nothing is shared between replicas (see src/shared-state/). */
type RedisSettings =
  | 'redisUrl'
  | 'redisTimeoutMs'
  | 'redisHeartbeatMs'
  | 'redisOutageEvidenceMs'
  | 'redisKeyPrefix';

export type AppConfig = Omit<
  Config,
  | 'port'
  | 'host'
  | 'logLevel'
  | 'clerkSecretKey'
  | 'clerkEmulatorPort'
  | 'clerkEmulatorLatencyMs'
  | RedisSettings
> &
  Partial<Pick<Config, RedisSettings>> & {
    /** Required here: the development entry supplies the emulator's key when none is configured. */
    clerkSecretKey: string;
  };

export interface AppOptions {
  config: AppConfig;
  logger: Logger;
  /** What GraphiQL opens with; defaults to a query template. */
  graphiql?: Partial<GraphiQLSettings>;
  /**
   * Also allow any `http://localhost:*` / `127.0.0.1` / `[::1]` browser origin (CORS), for a frontend's dev server.
   * Only the development entry's zero-config start sets it. Default false.
   */
  allowLocalhostOrigins?: boolean;
}

export interface App {
  server: Server;
  cache: TeamCache;
  /** The policy every Clerk call goes through (queue, budget, breakers). */
  upstream: Upstream;
  revocations: Revocations;
  /** This process's live streams (`subscription { teamChanged }`). */
  liveStreams: LiveStreams;
  webhooks: WebhookRoute;
  /** Request bodies still being received: their idle timeout and shared budget (src/http/body-guard.ts). */
  bodies: BodyGuard;
  metrics: Metrics;
  /** The Redis layer shared with the other replicas; undefined without REDIS_URL. */
  shared: SharedState | undefined;
  /**
   * The same request handling as `server`, with the fast path off (every /graphql request through Yoga): what the
   * differential tests compare the fast path with, on the very same cache.
   */
  withoutFastPath: (request: IncomingMessage, response: ServerResponse) => void;
  /** /readyz turns 503, new requests are refused, in-flight ones finish (up to graceMs), then all is closed. */
  shutdown(graceMs?: number): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  response.end(JSON.stringify(body));
}

export function createApp({ config, logger, graphiql, allowLocalhostOrigins = false }: AppOptions): App {
  const metrics = createMetrics();
  // Before the Clerk client makes any call: its sockets are bounded from the first one.
  const clerkHttp = installClerkHttp({
    apiUrl: config.clerkApiUrl,
    maxSockets: config.clerkMaxSockets,
    timeoutMs: config.clerkTimeoutMs,
    currentSignal: currentCallSignal,
  });
  const clerk = createClerkClient({
    secretKey: config.clerkSecretKey,
    apiUrl: config.clerkApiUrl,
    telemetry: { disabled: true },
  });
  const upstreamObserver: UpstreamObserver = {
    ...metrics.upstream,
    circuitChanged(route, state, previous) {
      metrics.upstream.circuitChanged?.(route, state, previous);
      if (state === 'open') {
        logger.warn('Clerk circuit opened: calls on this route are refused until a probe succeeds', {
          route,
          from: previous,
          cooldownMs: config.clerkBreakerCooldownMs,
        });
      } else if (state === 'closed') {
        logger.info('Clerk circuit closed: calls on this route are made again', { route });
      } else {
        logger.info('Clerk circuit half-open: one probe call', { route });
      }
    },
  };
  // --- Several replicas: the Redis layer, absent without REDIS_URL (then nothing below changes). ---
  const shared = config.redisUrl
    ? createSharedState({
        url: config.redisUrl,
        timeoutMs: config.redisTimeoutMs ?? 250,
        heartbeatMs: config.redisHeartbeatMs ?? 1000,
        outageEvidenceMs: config.redisOutageEvidenceMs ?? 1000,
        prefix: config.redisKeyPrefix ?? 'team-graphql:',
        ttlMs: config.cacheTtlSeconds * 1000,
        revocationRetentionMs: (config.cacheTtlSeconds + config.cacheStaleGraceSeconds) * 1000,
        dedupeWindowMs: DEDUPE_WINDOW_MS,
        budgetNamespace: budgetNamespace(config.clerkSecretKey),
        logger,
        registry: metrics.registry,
      })
    : undefined;
  // With Redis, one Clerk budget window and Clerk's 429 pauses for all replicas; a local share of the limit while
  // Redis is unreachable.
  const sharedBudget = shared
    ? createSharedBudget({
        store: shared.budgetStore,
        requests: config.clerkRateLimit,
        windowMs: config.clerkRateLimitWindowSeconds * 1000,
        assumedReplicas: config.clerkBudgetAssumedReplicas,
        logger,
      })
    : undefined;
  if (sharedBudget) registerSharedBudgetMetrics(metrics.registry, sharedBudget);
  // --- end of several replicas ---
  const upstream = createUpstream({
    // Shared: a call takes its start only when a Clerk socket is free, so it arrives when the window says it does.
    ...(sharedBudget ? { sharedBudget, maxInFlight: config.clerkMaxSockets } : {}),
    timeoutMs: config.clerkTimeoutMs,
    defaultDeadlineMs: config.requestDeadlineMs,
    budget: { requests: config.clerkRateLimit, windowMs: config.clerkRateLimitWindowSeconds * 1000 },
    maxQueue: config.clerkQueueMax,
    maxPerCaller: config.clerkQueueMaxPerCaller,
    breaker: { failureThreshold: config.clerkBreakerFailures, cooldownMs: config.clerkBreakerCooldownMs },
    observer: upstreamObserver,
  });
  const clerkSource = createClerkSource({ clerk, upstream });
  const cache = createTeamCache({
    // With Redis: a second level and a cluster-wide single flight under the cache (src/shared-state/).
    source: shared ? shared.shareReads(clerkSource) : clerkSource,
    ttlMs: config.cacheTtlSeconds * 1000,
    staleGraceMs: config.cacheStaleGraceSeconds * 1000,
    maxMembers: config.cacheMaxMembers,
    observer: metrics.cache,
    clockSkewMs: config.cacheClockSkewMs,
    // A full read that differs from the webhook-patched copy it replaces: patching missed or misapplied a change.
    onDrift: (drift) =>
      logger.warn('team cache drift: a full read differs from the patched copy', { ...drift }),
  });
  // Live updates. The bus is in-process; it is the seam for Redis (see src/subscriptions/team-events.ts).
  const liveStreams = createLiveStreams({
    bus: createTeamEventBus(),
    maxPerUser: config.subscriptionMaxStreamsPerUser,
    maxStreams: config.subscriptionMaxStreams,
    maxLifetimeMs: config.subscriptionMaxLifetimeSeconds * 1000,
    observer: metrics.live,
  });
  // Kept as long as the oldest evidence the cache may still serve: a removal must outlive every stale copy.
  // Every record also ends the live streams it applies to.
  const notified = notifyingRevocations(
    createRevocations({
      retentionMs: (config.cacheTtlSeconds + config.cacheStaleGraceSeconds) * 1000,
      // With Redis: while the bus is not heard, removals announced elsewhere may be missed (src/shared-state/).
      ...(shared ? { unconfirmedUpTo: shared.unconfirmedUpTo } : {}),
    }),
    liveStreams.revoked,
  );
  // --- fast path (src/fast-path/): a revocation changes answers without a cache change, so it retires them all.
  const preparedResponses =
    config.preparedResponsesMax > 0
      ? createPreparedResponses({
          max: config.preparedResponsesMax,
          maxBytes: config.preparedResponsesMaxMb * 1024 * 1024,
          perViewerMax: config.preparedResponsesPerViewer,
          registry: metrics.registry,
        })
      : undefined;
  const revocations: Revocations = {
    ...notified,
    record(userId, organizationId) {
      notified.record(userId, organizationId);
      preparedResponses?.retireAll();
    },
  };
  // --- end fast path
  const readKeys = createClerkKeyReader({ clerk, upstream });
  const verifyToken = createTokenVerifier({
    jwtKey: config.clerkJwtKey,
    keySet: config.clerkJwtKey ? undefined : createKeySet({ read: readKeys }),
    deadlineMs: config.requestDeadlineMs,
    authorizedParties: config.clerkAuthorizedParties,
  });
  const yoga = createTeamYoga({
    cache,
    revocations,
    liveStreams,
    verifyToken,
    logger,
    graphiql: config.graphiqlEnabled
      ? {
          defaultQuery:
            graphiql?.defaultQuery ?? 'query Viewer {\n  viewer { userId activeOrganizationId }\n}\n',
          defaultHeaders: graphiql?.defaultHeaders ?? { Authorization: 'Bearer <Clerk session token>' },
          ...(graphiql?.defaultTabs ? { defaultTabs: graphiql.defaultTabs } : {}),
        }
      : false,
    introspection: config.introspectionEnabled,
    corsOrigins: config.corsOrigins,
    allowLocalhostOrigins,
    production: config.production,
    requestDeadlineMs: config.requestDeadlineMs,
    trustedDocuments: config.trustedDocumentsManifest
      ? {
          documents: loadTrustedDocuments(config.trustedDocumentsManifest),
          only: config.trustedDocumentsOnly,
        }
      : undefined,
    preparedResponses,
  });
  const fastPath = preparedResponses
    ? createFastPath({
        store: preparedResponses,
        cache,
        revocations,
        verifyToken,
        yoga: (request, response, context) => yoga(request, response, context),
      })
    : undefined;
  // Bodies not yet received (nobody has checked their sender yet): a short idle timeout and a budget for all of them.
  const bodies = createBodyGuard({
    idleTimeoutMs: config.requestBodyIdleTimeoutMs,
    budgetBytes: config.requestBodyBudgetMb * 1024 * 1024,
  });
  // A webhook's effects, applied here whether it reached this replica or another one (heard on the Redis bus).
  const webhookEffects = createEffectApplier({
    cache,
    revocations,
    refreshDebounceMs: config.webhookRefreshDebounceMs,
    logger,
    live: {
      // An organization someone watches is re-read after its webhooks even if the cache does not hold it.
      wanted: liveStreams.watching,
      onRefreshed: (organizationId, reasons) => liveStreams.changed({ organizationId, reasons }),
      sessionEnded: (session) => liveStreams.sessionEnded(session),
    },
  });
  const webhooks = createWebhookRoute({
    signingSecret: config.clerkWebhookSigningSecret,
    effects: webhookEffects,
    bodies,
    logger,
    ...(shared ? { shared: shared.webhooks } : {}),
  });
  shared?.attach({ cache, revocations, applyEffects: webhookEffects.apply });
  const graphiqlPage = config.graphiqlEnabled
    ? createGraphiQLPage(async () => {
        const page = await yoga.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
        return page.text();
      })
    : undefined;
  metrics.watch({ cache, webhookOutcomes: webhooks.outcomes, upstream, liveStreams });

  let accepting = true;
  /** One line per request at LOG_LEVEL=debug; off otherwise, so cache hits do not pay for it. */
  const accessLog = logger.enabled('debug');
  const handle = (request: IncomingMessage, response: ServerResponse, fast: boolean) => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const given = request.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    response.setHeader('x-request-id', requestId);
    const startedAt = accessLog ? performance.now() : 0;
    response.on('finish', () => {
      metrics.httpResponse(routeLabel(path), response.statusCode);
      if (accessLog) {
        // Path only: query strings can carry GraphQL variables (emails) on GET requests.
        logger.debug('request', {
          requestId,
          method: request.method,
          path,
          status: response.statusCode,
          durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
        });
      }
    });

    if (!accepting && path !== '/healthz') {
      return json(response, 503, { error: 'Shutting down.' }, { connection: 'close' });
    }
    switch (path) {
      case WEBHOOK_PATH:
        return webhooks.handle(request, response);
      case '/healthz':
        return json(response, 200, { status: 'ok' });
      case '/readyz':
        // With Redis: not ready until Redis has accepted this replica once (a wrong password must stop a rollout).
        if (shared && !shared.accepted())
          return json(response, 503, { status: 'waiting for Redis', reason: shared.health().reason });
        return json(response, 200, { status: 'ready' });
      case '/metrics':
        return void metrics.registry.metrics().then(
          (text) => {
            response.writeHead(200, { 'content-type': metrics.registry.contentType });
            response.end(text);
          },
          (error: unknown) => {
            logger.error('metrics collection failed', { requestId, error });
            json(response, 500, { error: 'Metrics collection failed.' });
          },
        );
      default: {
        if (graphiqlPage?.wants(request)) {
          return void graphiqlPage.serve(request, response).catch((error: unknown) => {
            logger.error('GraphiQL page failed', { requestId, error });
            if (!response.headersSent) json(response, 500, { error: 'GraphiQL is unavailable.' });
          });
        }
        const refusal = request.method === 'POST' ? bodySizeRefusal(request) : undefined;
        if (refusal) return refuse(response, refusal.status, refusal.code, refusal.message, refusal.headers);
        if (!bodies.admit(request, response, MAX_REQUEST_BODY_BYTES)) return;
        // One deadline per request, dated at its arrival: both paths and every wait of the request share it.
        const requestedAt = Date.now();
        const arrival = { requestId, requestedAt, deadline: requestedAt + config.requestDeadlineMs };
        if (fast && fastPath && path === '/graphql') return fastPath(request, response, arrival);
        return yoga(request, response, arrival);
      }
    }
  };
  const server = createServer((request, response) => handle(request, response, true));
  answerClientErrors(server);

  async function shutdown(graceMs = 10_000) {
    accepting = false;
    webhookEffects.close();
    // Live streams complete now (clients reconnect, to another replica), so their connections can close.
    liveStreams.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections become idle as their last response goes out: close them as they do.
    const sweeper = setInterval(() => server.closeIdleConnections(), 50);
    server.closeIdleConnections();
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    deadline.unref();
    await closed;
    clearInterval(sweeper);
    clearTimeout(deadline);
    await yoga.dispose();
    upstream.close();
    // The budget leaves the live replicas through the Redis layer's client: before that closes.
    await sharedBudget?.close();
    await shared?.close();
    await clerkHttp.close();
  }

  return {
    server,
    cache,
    upstream,
    revocations,
    liveStreams,
    webhooks,
    bodies,
    metrics,
    shared,
    withoutFastPath: (request, response) => handle(request, response, false),
    shutdown,
  };
}

/**
 * The /graphql body limit, decided from Content-Length alone: Node's parser never delivers more body bytes than
 * the header declares, so the header is a hard bound. GraphQL clients always send it; a chunked body without it is
 * refused rather than read unbounded.
 */
function bodySizeRefusal(
  request: IncomingMessage,
): { status: number; code: string; message: string; headers?: Record<string, string> } | undefined {
  const declared = request.headers['content-length'];
  if (declared === undefined) {
    return {
      status: 411,
      code: 'BAD_REQUEST',
      message: 'POST /graphql needs a Content-Length header.',
      headers: { connection: 'close' },
    };
  }
  if (Number(declared) > MAX_REQUEST_BODY_BYTES) {
    return {
      status: 413,
      code: 'REQUEST_ENTITY_TOO_LARGE',
      message: `Request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes.`,
      headers: { connection: 'close' },
    };
  }
  return undefined;
}

/** Bounded label values: unknown paths are one bucket, not one series each. */
function routeLabel(path: string): string {
  return ['/graphql', WEBHOOK_PATH, '/healthz', '/readyz', '/metrics'].includes(path) ? path : 'other';
}
