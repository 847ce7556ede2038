/**
 * Composition root: builds the parts (the Clerk client and its call policy, the team cache, the Redis layer when
 * configured, live streams, revocation records, the token verifier, Yoga, the fast path, the webhook route, the
 * metrics) and wires them, in that order. What HTTP does with them is src/http/'s. Returns a node http.Server that
 * the caller listens with.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createClerkClient } from '@clerk/backend';
import { createAuditLog } from './actions/audit-log.js';
import { createMemoryIdempotencyStore } from './actions/idempotency.js';
import { createOrganizationLocks } from './actions/organization-locks.js';
import { createRoleSet } from './actions/role-set.js';
import { createTeamActions } from './actions/team-actions.js';
import { createWriteLimits, type WriteLimits } from './actions/write-limits.js';
import { createKeySet } from './auth/jwks.js';
import { createTokenVerifier } from './auth/verifier.js';
import { installClerkHttp } from './clerk/http-agent.js';
import { createClerkKeyReader } from './clerk/keys.js';
import { createClerkSource } from './clerk/source.js';
import { createSharedBudget } from './clerk/upstream/shared-budget.js';
import { createUpstream, currentCallSignal, type Upstream, type UpstreamObserver } from './clerk/upstream.js';
import { createClerkWriter } from './clerk/writes.js';
import type { Config } from './config.js';
import { createFastPath } from './fast-path/fast-path.js';
import { createPreparedResponses } from './fast-path/prepared-responses.js';
import { loadTrustedDocuments, useTrustedDocuments } from './fast-path/trusted-documents.js';
import {
  type PreparedContext,
  recordingCacheFor,
  usePreparedResponses,
} from './fast-path/use-prepared-responses.js';
import type { GraphiQLSettings } from './graphql/graphiql.js';
import { createGraphiQLPage } from './graphql/graphiql-page.js';
import { createTeamYoga } from './graphql/yoga.js';
import { type BodyGuard, createBodyGuard } from './http/body-guard.js';
import { answerClientErrors } from './http/client-errors.js';
import { createHttpHandler, type RootPage } from './http/handler.js';
import { createShutdown, type Shutdown } from './http/shutdown.js';
import type { StaticSite } from './http/static-site.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { type Tracing, traceCacheReads } from './observability/tracing.js';
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
import { createWebhookRoute, DEDUPE_WINDOW_MS, type WebhookRoute } from './webhooks/route.js';

/**
 * What an app is built from: the configuration (src/config.ts supplies every value, defaults included) less what
 * only the entries use (where to listen, how long a signal's shutdown waits, the log level, the embedded emulator).
 */
export type AppConfig = Omit<
  Config,
  | 'port'
  | 'host'
  | 'adminPort'
  | 'adminHost'
  | 'shutdownDelayMs'
  | 'shutdownGraceMs'
  | 'logLevel'
  | 'clerkSecretKey'
  | 'clerkEmulatorPort'
  | 'clerkEmulatorLatencyMs'
  | 'otelTracesEndpoint'
  | 'otelTracesProtocol'
  | 'otelServiceName'
  | 'otelTracesSampler'
  | 'otelTracesSamplerArg'
  | 'otelBspScheduleDelayMs'
> & {
  /** Required here: the development entry supplies the emulator's key when none is configured. */
  clerkSecretKey: string;
};

export interface AppOptions {
  config: AppConfig;
  logger: Logger;
  /**
   * What GraphiQL opens with.
   * @default a query of the viewer, with a placeholder Authorization header
   */
  graphiql?: Partial<GraphiQLSettings>;
  /**
   * Also allow any `http://localhost:*` / `127.0.0.1` / `[::1]` browser origin (CORS), for a frontend's dev server.
   * Only the development entry's zero-config start sets it.
   * @default false
   */
  allowLocalhostOrigins?: boolean;
  /**
   * Answers `GET /` (src/http/handler.ts): the development entry's hook for a page of its own.
   * @default a JSON pointer to /graphql
   */
  rootPage?: RootPage;
  /** A web app served on the public listener (the development entry's Team page at `/`). @default none */
  site?: StaticSite;
  /**
   * The traces set up by the entry (src/observability/tracing.ts): flushed on shutdown once requests have finished,
   * before Redis closes. @default none (spans, if any SDK is registered, are the entry's to flush)
   */
  tracing?: Tracing;
}

export interface App {
  /** The public listener: /graphql, /webhooks/clerk and the probes. */
  server: Server;
  /** The admin listener: /metrics and the probes, on its own port (`ADMIN_PORT`). */
  adminServer: Server;
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
  /** Per-user and Clerk invitation limits of team actions (src/actions/write-limits.ts), shared through Redis. */
  writeLimits: WriteLimits;
  /**
   * The same request handling as `server`, with the fast path off (every /graphql request through Yoga): what the
   * differential tests compare the fast path with, on the very same cache.
   */
  withoutFastPath: (request: IncomingMessage, response: ServerResponse) => void;
  /**
   * /readyz turns 503, requests are still served for `delayMs`, then new ones are refused, live streams complete,
   * in-flight requests finish (up to `graceMs`), and all is closed (src/http/shutdown.ts).
   */
  shutdown: Shutdown;
}

export function createApp({
  config,
  logger,
  graphiql,
  allowLocalhostOrigins = false,
  rootPage,
  site,
  tracing,
}: AppOptions): App {
  const metrics = createMetrics();

  // --- Clerk: the HTTP agent, the SDK client. The agent first: the client's sockets are bounded from its first call.
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

  // --- The Redis layer shared by the replicas (src/shared-state/): absent without REDIS_URL, and then nothing below
  // changes.
  const shared = config.redisUrl
    ? createSharedState({
        url: config.redisUrl,
        timeoutMs: config.redisTimeoutMs,
        heartbeatMs: config.redisHeartbeatMs,
        outageEvidenceMs: config.redisOutageEvidenceMs,
        prefix: config.redisKeyPrefix,
        ttlMs: config.cacheTtlSeconds * 1000,
        revocationRetentionMs: (config.cacheTtlSeconds + config.cacheStaleGraceSeconds) * 1000,
        dedupeWindowMs: DEDUPE_WINDOW_MS,
        budgetNamespace: budgetNamespace(config.clerkSecretKey),
        logger,
        registry: metrics.registry,
      })
    : undefined;

  // --- The shared Clerk budget: with REDIS_URL, one window and Clerk's 429 pauses for all replicas (the Redis
  // layer's store), a local share of the limit while Redis is unreachable (the call policy's gate).
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

  // --- The call policy every Clerk call goes through, and the Clerk source of team data.
  const upstream = createUpstream({
    // Shared: a call takes its start only when a Clerk socket is free, so it arrives when the window says it does.
    ...(sharedBudget ? { sharedBudget, maxInFlight: config.clerkMaxSockets } : {}),
    timeoutMs: config.clerkTimeoutMs,
    defaultDeadlineMs: config.requestDeadlineMs,
    budget: { requests: config.clerkRateLimit, windowMs: config.clerkRateLimitWindowSeconds * 1000 },
    maxQueue: config.clerkQueueMax,
    maxPerCaller: config.clerkQueueMaxPerCaller,
    breaker: { failureThreshold: config.clerkBreakerFailures, cooldownMs: config.clerkBreakerCooldownMs },
    observer: logCircuitChanges(metrics.upstream, logger, config.clerkBreakerCooldownMs),
  });
  const clerkSource = createClerkSource({ clerk, upstream });
  const clerkWriter = createClerkWriter({ clerk, upstream });

  // --- The team cache.
  const cache = createTeamCache({
    // With Redis: a second level and a cluster-wide single flight under the cache (src/shared-state/).
    source: shared ? shared.shareReads(clerkSource) : clerkSource,
    ttlMs: config.cacheTtlSeconds * 1000,
    staleGraceMs: config.cacheStaleGraceSeconds * 1000,
    maxMembers: config.cacheMaxMembers,
    // Each read's outcome is also an event on the current span (the GraphQL operation, the fast path).
    observer: traceCacheReads(metrics.cache),
    clockSkewMs: config.cacheClockSkewMs,
    // A full read that differs from the webhook-patched copy it replaces: patching missed or misapplied a change.
    onDrift: (drift) =>
      logger.warn('team cache drift: a full read differs from the patched copy', { ...drift }),
  });

  // --- Live updates. The event bus is this process's own: with Redis, webhook effects travel on the Redis layer's
  // bus, and every replica applies them and announces to its own streams (see src/subscriptions/team-events.ts).
  const liveStreams = createLiveStreams({
    bus: createTeamEventBus(),
    maxPerUser: config.subscriptionMaxStreamsPerUser,
    maxStreams: config.subscriptionMaxStreams,
    maxLifetimeMs: config.subscriptionMaxLifetimeSeconds * 1000,
    observer: metrics.live,
  });

  // --- Revocation records. Kept as long as the oldest evidence the cache may still serve: a removal must outlive
  // every stale copy. Every record also ends the live streams it applies to.
  const notified = notifyingRevocations(
    createRevocations({
      retentionMs: (config.cacheTtlSeconds + config.cacheStaleGraceSeconds) * 1000,
      // With Redis: while the bus is not heard, removals announced elsewhere may be missed (src/shared-state/).
      ...(shared ? { unconfirmedUpTo: shared.unconfirmedUpTo } : {}),
    }),
    liveStreams.revoked,
  );
  // --- Prepared responses (src/fast-path/): a revocation changes answers without a cache change, so it retires
  // them all.
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

  // --- Token verification.
  const readKeys = createClerkKeyReader({ clerk, upstream });
  const verifyToken = createTokenVerifier({
    jwtKey: config.clerkJwtKey,
    keySet: config.clerkJwtKey ? undefined : createKeySet({ read: readKeys }),
    deadlineMs: config.requestDeadlineMs,
    authorizedParties: config.clerkAuthorizedParties,
  });

  // --- Team actions: write limits and idempotency keys, in Redis for all replicas when configured (Redis silent:
  // insurance limiters per replica; keyed mutations refused, never run twice).
  const writeLimits = createWriteLimits({
    userWritesPerMinute: config.writeRateLimitPerMinute,
    invitationCreatesPerHour: config.clerkInvitationCreatesPerHour,
    invitationBulkCallsPerHour: config.clerkInvitationBulkCallsPerHour,
    ...(shared ? { shared: shared.writeLimiter, assumedReplicas: config.clerkBudgetAssumedReplicas } : {}),
    instanceKey: budgetNamespace(config.clerkSecretKey),
  });
  const idempotencyStore =
    shared?.idempotencyStore ??
    createMemoryIdempotencyStore({ maxBytes: config.idempotencyMaxMb * 1024 * 1024 });

  // --- GraphQL: Yoga, and the fast path in front of it.
  // Team actions (mutations): their writes are applied here as their webhooks will be, live subscribers told at
  // once, and the other replicas told through Redis, before the mutation answers.
  const actions = createTeamActions({
    cache,
    writer: clerkWriter,
    roles: createRoleSet(clerkWriter, config.cacheTtlSeconds * 1000),
    locks: createOrganizationLocks(shared?.actions.lease),
    limits: writeLimits,
    audit: createAuditLog(logger),
    async publish(written) {
      const effects = { ...written, settleNow: true };
      const touched = webhookEffects.apply(effects);
      await shared?.actions.published(effects, touched);
    },
  });

  const yoga = createTeamYoga<PreparedContext>({
    cache,
    actions,
    idempotencyStore,
    // The fast path's: a request whose answer may be kept records what it reads (the answer's inputs).
    cacheFor: recordingCacheFor(cache),
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
    // The fast path's plugins, in this order: trusted documents swap the document in before anything reads it.
    plugins: [
      ...(config.trustedDocumentsManifest
        ? [
            useTrustedDocuments({
              documents: loadTrustedDocuments(config.trustedDocumentsManifest),
              only: config.trustedDocumentsOnly,
            }),
          ]
        : []),
      ...(preparedResponses ? [usePreparedResponses({ store: preparedResponses })] : []),
    ],
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
  const graphiqlPage = config.graphiqlEnabled
    ? createGraphiQLPage(async () => {
        const page = await yoga.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
        return page.text();
      })
    : undefined;

  // --- Request bodies not yet received (nobody has checked their sender yet): a short idle timeout and a budget
  // for all of them.
  const bodies = createBodyGuard({
    idleTimeoutMs: config.requestBodyIdleTimeoutMs,
    budgetBytes: config.requestBodyBudgetMb * 1024 * 1024,
  });

  // --- Webhooks: their effects, applied here whether the webhook reached this replica or another one (heard on
  // the Redis bus), and the route that verifies and answers Clerk's deliveries.
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

  metrics.watch({ cache, webhookOutcomes: webhooks.outcomes, upstream, liveStreams });

  // --- HTTP (src/http/): routing, request IDs, access log, body limits; then the listener's graceful shutdown.
  const http = createHttpHandler({
    graphql: (request, response, arrival) => void yoga(request, response, arrival),
    fastPath,
    graphiqlPage,
    rootPage,
    site,
    webhooks,
    bodies,
    requestDeadlineMs: config.requestDeadlineMs,
    // With Redis: not ready until Redis has accepted this replica once (a wrong password must stop a rollout).
    notReady: () =>
      shared && !shared.accepted()
        ? { status: 'waiting for Redis', reason: shared.health().reason }
        : undefined,
    metrics,
    logger,
  });
  const server = createServer(http.handle);
  answerClientErrors(server);
  const adminServer = createServer(http.admin);
  answerClientErrors(adminServer);
  const shutdown = createShutdown({
    server,
    adminServer,
    stopReadiness: http.stopReadiness,
    stopAccepting: http.stopAccepting,
    endLongRequests() {
      webhookEffects.close();
      // Live streams complete now (clients reconnect, to another replica), so their connections can close.
      liveStreams.close();
    },
    flush: tracing?.flush,
    async release() {
      await yoga.dispose();
      upstream.close();
      // The gate leaves the list of live replicas through the store's client, which the Redis layer closes.
      await sharedBudget?.close();
      await shared?.close();
      await clerkHttp.close();
    },
  });

  return {
    server,
    adminServer,
    cache,
    upstream,
    revocations,
    liveStreams,
    webhooks,
    bodies,
    metrics,
    shared,
    writeLimits,
    withoutFastPath: http.withoutFastPath,
    shutdown,
  };
}

/** The policy's metrics, and a log line when a route's circuit opens, closes or lets a probe through. */
function logCircuitChanges(metrics: UpstreamObserver, logger: Logger, cooldownMs: number): UpstreamObserver {
  return {
    ...metrics,
    circuitChanged(route, state, previous) {
      metrics.circuitChanged?.(route, state, previous);
      if (state === 'open') {
        logger.warn('Clerk circuit opened: calls on this route are refused until a probe succeeds', {
          route,
          from: previous,
          cooldownMs,
        });
      } else if (state === 'closed') {
        logger.info('Clerk circuit closed: calls on this route are made again', { route });
      } else {
        logger.info('Clerk circuit half-open: one probe call', { route });
      }
    },
  };
}
