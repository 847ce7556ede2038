/**
 * The one place that reads `process.env`. Every value is validated here so a misconfigured deployment fails
 * at start with a message naming the variable, instead of misbehaving on the first request.
 */

export interface Config {
  port: number;
  host: string;
  /**
   * Port of the admin listener: /metrics (only there), /healthz and /readyz. `0` picks a free one.
   * @default 9464 (the Prometheus exporter port OpenTelemetry's exporter uses)
   */
  adminPort: number;
  /** Interface the admin listener binds. @default HOST's value (a scraper reaches it where it reaches the pod) */
  adminHost: string;
  /**
   * After SIGTERM, how long /readyz answers 503 while requests are still served, so load balancers stop sending
   * before the listener closes. A second signal ends the wait early.
   * @default 5000 (0 in the development entry: nothing balances load in front of `npm start`)
   */
  shutdownDelayMs: number;
  /** Once the listener has closed, how long requests in flight may take to finish before their connections close. */
  shutdownGraceMs: number;
  /** `production` hides GraphiQL and introspection unless switched on, and masks error details. */
  production: boolean;
  /** Absent only in the development entry, which then runs the embedded Clerk emulator. */
  clerkSecretKey: string | undefined;
  /** Base URL without `/v1`; the SDK appends the version itself. */
  clerkApiUrl: string;
  /** RSA public key (PEM) for networkless session-token verification; else the JWKS is read from Clerk. */
  clerkJwtKey: string | undefined;
  /** Allowed `azp` claims; empty means any. */
  clerkAuthorizedParties: string[];
  clerkWebhookSigningSecret: string | undefined;
  cacheTtlSeconds: number;
  /** How long past the TTL a cached copy may be served (marked stale) when Clerk fails. */
  cacheStaleGraceSeconds: number;
  /** Size bound of the team cache, counted in members (an invitation counts as one). */
  cacheMaxMembers: number;
  /**
   * How far Clerk's clock may be from ours: a webhook's change dated this close to the read a cached copy came from
   * invalidates it instead of patching it (which of the two is newer cannot be told).
   */
  cacheClockSkewMs: number;
  /** Upper bound on one Clerk call; a hanging Clerk becomes UPSTREAM_UNAVAILABLE after this long. */
  clerkTimeoutMs: number;
  /**
   * How long one request may wait for Clerk in all (queue and calls). A Clerk call that could not start within it
   * is not made.
   * @default CLERK_TIMEOUT_MS + 1000
   */
  requestDeadlineMs: number;
  /** Clerk calls that may wait for the request budget at once; more are refused (RATE_LIMITED). */
  clerkQueueMax: number;
  /** Clerk calls one user may have waiting or under way at once; more are refused (RATE_LIMITED). */
  clerkQueueMaxPerCaller: number;
  /** Connections to the Clerk API at most. */
  clerkMaxSockets: number;
  /** Consecutive failed Clerk calls on one route that open its circuit breaker; 0 turns the breaker off. */
  clerkBreakerFailures: number;
  /** How long an open circuit refuses calls before one probe is let through. */
  clerkBreakerCooldownMs: number;
  /** Requests toward Clerk per window, across all organizations (Clerk's production limit is 1,000 per 10 s). */
  clerkRateLimit: number;
  clerkRateLimitWindowSeconds: number;
  /** Quiet period after a webhook before the affected organizations are re-read in the background. */
  webhookRefreshDebounceMs: number;
  /** The longest a live stream (`subscription { teamChanged }`) lives before it completes; also never past its token's expiry. */
  subscriptionMaxLifetimeSeconds: number;
  /** Live streams one user may hold open at once in this process; more are refused (TOO_MANY_STREAMS). */
  subscriptionMaxStreamsPerUser: number;
  /** Live streams this process holds open at most; more are refused (TOO_MANY_STREAMS). 0 turns subscriptions off. */
  subscriptionMaxStreams: number;
  graphiqlEnabled: boolean;
  introspectionEnabled: boolean;
  /** Browser origins allowed to call /graphql (CORS); empty means same-origin only. */
  corsOrigins: string[];
  /** Silence after which a request body still being received is dropped (408), ms. */
  requestBodyIdleTimeoutMs: number;
  /** Memory that request bodies still being received may hold in all (MiB); past it new ones get 503. */
  requestBodyBudgetMb: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  // --- Several replicas: without REDIS_URL nothing is shared and the other settings here are unused. ---
  /** Redis shared by the replicas (bus, second-level cache, single flight, dedupe); unset: one process, in-process. */
  redisUrl: string | undefined;
  /** Upper bound on one Redis command; past it the replica carries on without Redis for that step. */
  redisTimeoutMs: number;
  /** How often each replica announces itself on the bus; silence for longer means a lost connection. */
  redisHeartbeatMs: number;
  /** While a replica cannot hear the bus, how long evidence it read from Clerk counts (a membership list, a roster). */
  redisOutageEvidenceMs: number;
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  redisKeyPrefix: string;
  // --- end of several replicas ---
  // --- The Clerk budget shared by the replicas (with REDIS_URL) ---
  /** Replicas assumed to share CLERK_RATE_LIMIT by a replica that has never reached Redis (its local share). */
  clerkBudgetAssumedReplicas: number;
  // --- end shared Clerk budget ---
  /** codegen's persisted-documents manifest (JSON, sha256 → document): requests may name a document by ID. */
  trustedDocumentsManifest: string | undefined;
  /** Run only the manifest's documents; plain queries are refused (PERSISTED_QUERY_ONLY). Needs the manifest. */
  trustedDocumentsOnly: boolean;
  /** Prepared responses (replayed answers) kept at most; 0 turns the fast path off. */
  preparedResponsesMax: number;
  /** Memory the prepared responses may hold (keys, bodies, headers, reads), MiB. */
  preparedResponsesMaxMb: number;
  /**
   * Prepared responses one viewer may hold (its byte share is the same fraction of the MiB): one viewer's unique
   * queries evict only its own.
   */
  preparedResponsesPerViewer: number;
  // --- Team actions (mutations) ---
  /**
   * Memory the in-process idempotency keys may hold (their answers, fingerprints, bookkeeping), MiB. Unused with
   * REDIS_URL: keys live in Redis then.
   */
  idempotencyMaxMb: number;
  /** Writes (mutations) one user may make per minute; more are refused (RATE_LIMITED). */
  writeRateLimitPerMinute: number;
  /** Invitations the Clerk instance may create per hour (Clerk's documented limit: 250). */
  clerkInvitationCreatesPerHour: number;
  /** Calls to Clerk's bulk invitation endpoint per hour (Clerk's documented limit: 50). */
  clerkInvitationBulkCallsPerHour: number;
  // --- end team actions ---
  // --- Traces (OpenTelemetry; the standard OTEL_* variables, docs/tracing.md). No endpoint: tracing off. ---
  /**
   * Where spans are sent (OTLP over HTTP): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
   * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. Undefined (neither set, or OTEL_SDK_DISABLED=true): tracing off.
   * @default none: off
   */
  otelTracesEndpoint: string | undefined;
  /** OTLP encoding: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL. @default 'http/protobuf' */
  otelTracesProtocol: TracesProtocol;
  /** @default 'team-graphql' */
  otelServiceName: string;
  /** @default 'parentbased_always_on' (the OpenTelemetry specification's) */
  otelTracesSampler: TracesSampler;
  /** The sampled ratio of the `*traceidratio` samplers, 0–1. @default 1 */
  otelTracesSamplerArg: number;
  /** Delay between two exports of spans, ms. @default 5000 */
  otelBspScheduleDelayMs: number;
  // --- end traces ---
  /** Port of the embedded emulator (only when no secret key is configured). */
  clerkEmulatorPort: number;
  /** Latency the embedded emulator adds to each Clerk call, to feel like the real one. */
  clerkEmulatorLatencyMs: number;
}

/** OTEL_TRACES_SAMPLER's values (the OpenTelemetry specification's, less the Jaeger and X-Ray ones). */
const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];
/** OTLP over HTTP only: gRPC would add a second transport (and @grpc/grpc-js) for what a collector takes either way. */
const TRACES_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type TracesProtocol = (typeof TRACES_PROTOCOLS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
  /**
   * The development entry (`npm start`): a missing `CLERK_SECRET_KEY` means the embedded emulator, and then the
   * server listens on 127.0.0.1 unless `HOST` says otherwise (its GraphiQL page carries a 24-hour admin token).
   * Otherwise (`node dist/main.js`) a Clerk key is required: the production build has no emulator.
   */
  development?: boolean;
}

export function loadConfig(env: Env = process.env, { development = false }: LoadConfigOptions = {}): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = read(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };
  const list = (name: string): string[] =>
    (read(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    return fallback;
  };

  const production = read('NODE_ENV') === 'production';

  const clerkSecretKey = read('CLERK_SECRET_KEY');
  if (clerkSecretKey !== undefined && !/^sk_(test|live)_\S+$/.test(clerkSecretKey)) {
    problems.push('CLERK_SECRET_KEY must look like sk_test_… or sk_live_…');
  }

  const clerkApiUrl = (read('CLERK_API_URL') ?? 'https://api.clerk.com').replace(/\/+$/, '');
  if (!URL.canParse(clerkApiUrl) || !/^https?:$/.test(new URL(clerkApiUrl).protocol)) {
    problems.push(`CLERK_API_URL must be an http(s) URL, got "${clerkApiUrl}"`);
  } else if (new URL(clerkApiUrl).pathname.endsWith('/v1')) {
    problems.push('CLERK_API_URL must not end with /v1: the Clerk SDK appends the API version itself');
  }

  // Deployments often store PEMs with literal "\n" in one line; accept both forms.
  const clerkJwtKey = read('CLERK_JWT_KEY')?.replace(/\\n/g, '\n');
  if (clerkJwtKey !== undefined && !clerkJwtKey.includes('-----BEGIN PUBLIC KEY-----')) {
    problems.push('CLERK_JWT_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }

  const clerkWebhookSigningSecret = read('CLERK_WEBHOOK_SIGNING_SECRET');
  if (clerkWebhookSigningSecret !== undefined && !/^whsec_[A-Za-z0-9+/=]+$/.test(clerkWebhookSigningSecret)) {
    problems.push('CLERK_WEBHOOK_SIGNING_SECRET must look like whsec_<base64>');
  }

  const clerkTimeoutMs = integer('CLERK_TIMEOUT_MS', 5000, 1, 120_000);

  const redisUrl = read('REDIS_URL');
  if (redisUrl !== undefined && (!URL.canParse(redisUrl) || !/^rediss?:$/.test(new URL(redisUrl).protocol))) {
    problems.push('REDIS_URL must be a redis:// or rediss:// URL');
  }
  const redisKeyPrefix = read('REDIS_KEY_PREFIX') ?? 'team-graphql:';
  if (!/^[\w.:{}-]{1,64}$/.test(redisKeyPrefix)) {
    problems.push('REDIS_KEY_PREFIX must be 1 to 64 letters, digits or . : _ - { }');
  }

  // Traces: the OpenTelemetry specification's variables and defaults (OTLP over HTTP only: no gRPC here).
  const httpUrl = (name: string, value: string | undefined): string | undefined => {
    if (value !== undefined && (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol))) {
      problems.push(`${name} must be an http(s) URL, got "${value}"`);
      return undefined;
    }
    return value;
  };
  const tracesEndpoint = httpUrl(
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'),
  );
  const baseEndpoint = httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', read('OTEL_EXPORTER_OTLP_ENDPOINT'));
  const otelTracesEndpoint = boolean('OTEL_SDK_DISABLED', false)
    ? undefined
    : (tracesEndpoint ?? (baseEndpoint ? `${baseEndpoint.replace(/\/+$/, '')}/v1/traces` : undefined));
  const otlpProtocol = oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', TRACES_PROTOCOLS, 'http/protobuf');
  const otelTracesProtocol = oneOf('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', TRACES_PROTOCOLS, otlpProtocol);
  const otelTracesSampler = oneOf('OTEL_TRACES_SAMPLER', TRACES_SAMPLERS, 'parentbased_always_on');
  const samplerArg = read('OTEL_TRACES_SAMPLER_ARG');
  let otelTracesSamplerArg = 1;
  if (samplerArg !== undefined && otelTracesSampler.endsWith('traceidratio')) {
    const ratio = Number(samplerArg);
    if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) otelTracesSamplerArg = ratio;
    else problems.push(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${samplerArg}"`);
  }

  const host = read('HOST') ?? (development && clerkSecretKey === undefined ? '127.0.0.1' : '0.0.0.0');
  const config: Config = {
    port: integer('PORT', 4000, 0, 65535),
    host,
    adminPort: integer('ADMIN_PORT', 9464, 0, 65535),
    adminHost: read('ADMIN_HOST') ?? host,
    shutdownDelayMs: integer('SHUTDOWN_DELAY_MS', development ? 0 : 5000, 0, 600_000),
    shutdownGraceMs: integer('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    production,
    clerkSecretKey,
    clerkApiUrl,
    clerkJwtKey,
    clerkAuthorizedParties: list('CLERK_AUTHORIZED_PARTIES'),
    clerkWebhookSigningSecret,
    cacheTtlSeconds: integer('CACHE_TTL_SECONDS', 300, 1, 86_400),
    cacheStaleGraceSeconds: integer('CACHE_STALE_GRACE_SECONDS', 3600, 0, 7 * 86_400),
    cacheMaxMembers: integer('CACHE_MAX_MEMBERS', 1_000_000, 1, 100_000_000),
    cacheClockSkewMs: integer('CACHE_CLOCK_SKEW_MS', 1000, 0, 600_000),
    clerkTimeoutMs,
    requestDeadlineMs: integer('REQUEST_DEADLINE_MS', clerkTimeoutMs + 1000, 1, 600_000),
    clerkQueueMax: integer('CLERK_QUEUE_MAX', 1000, 0, 1_000_000),
    clerkQueueMaxPerCaller: integer('CLERK_QUEUE_MAX_PER_CALLER', 10, 1, 1_000_000),
    clerkMaxSockets: integer('CLERK_MAX_SOCKETS', 32, 1, 10_000),
    clerkBreakerFailures: integer('CLERK_BREAKER_FAILURES', 5, 0, 1_000_000),
    clerkBreakerCooldownMs: integer('CLERK_BREAKER_COOLDOWN_MS', 10_000, 1, 3_600_000),
    clerkRateLimit: integer('CLERK_RATE_LIMIT', 1000, 1, 1_000_000),
    clerkRateLimitWindowSeconds: integer('CLERK_RATE_LIMIT_WINDOW_SECONDS', 10, 1, 3600),
    webhookRefreshDebounceMs: integer('WEBHOOK_REFRESH_DEBOUNCE_MS', 250, 0, 60_000),
    subscriptionMaxLifetimeSeconds: integer('SUBSCRIPTION_MAX_LIFETIME_SECONDS', 900, 1, 86_400),
    subscriptionMaxStreamsPerUser: integer('SUBSCRIPTION_MAX_STREAMS_PER_USER', 20, 1, 100_000),
    subscriptionMaxStreams: integer('SUBSCRIPTION_MAX_STREAMS', 10_000, 0, 1_000_000),
    graphiqlEnabled: boolean('GRAPHIQL_ENABLED', !production),
    introspectionEnabled: boolean('INTROSPECTION_ENABLED', !production),
    corsOrigins: list('CORS_ORIGINS'),
    requestBodyIdleTimeoutMs: integer('REQUEST_BODY_IDLE_TIMEOUT_MS', 10_000, 1, 300_000),
    requestBodyBudgetMb: integer('REQUEST_BODY_BUDGET_MB', 32, 1, 65_536),
    logLevel: oneOf('LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    redisUrl,
    redisTimeoutMs: integer('REDIS_TIMEOUT_MS', 250, 1, 60_000),
    redisHeartbeatMs: integer('REDIS_HEARTBEAT_MS', 1000, 10, 600_000),
    redisOutageEvidenceMs: integer('REDIS_OUTAGE_EVIDENCE_MS', 1000, 1, 600_000),
    redisKeyPrefix,
    clerkBudgetAssumedReplicas: integer('CLERK_BUDGET_ASSUMED_REPLICAS', 3, 1, 1000),
    trustedDocumentsManifest: read('TRUSTED_DOCUMENTS_MANIFEST'),
    trustedDocumentsOnly: boolean('TRUSTED_DOCUMENTS_ONLY', false),
    preparedResponsesMax: integer('PREPARED_RESPONSES_MAX', 10_000, 0, 10_000_000),
    preparedResponsesMaxMb: integer('PREPARED_RESPONSES_MAX_MB', 64, 1, 65_536),
    preparedResponsesPerViewer: integer('PREPARED_RESPONSES_PER_VIEWER', 100, 1, 10_000_000),
    idempotencyMaxMb: integer('IDEMPOTENCY_MAX_MB', 16, 1, 65_536),
    writeRateLimitPerMinute: integer('WRITE_RATE_LIMIT_PER_MINUTE', 30, 1, 1_000_000),
    clerkInvitationCreatesPerHour: integer('CLERK_INVITATION_CREATES_PER_HOUR', 250, 1, 1_000_000),
    clerkInvitationBulkCallsPerHour: integer('CLERK_INVITATION_BULK_CALLS_PER_HOUR', 50, 1, 1_000_000),
    otelTracesEndpoint,
    otelTracesProtocol,
    otelServiceName: read('OTEL_SERVICE_NAME') ?? 'team-graphql',
    otelTracesSampler,
    otelTracesSamplerArg,
    otelBspScheduleDelayMs: integer('OTEL_BSP_SCHEDULE_DELAY', 5000, 1, 600_000),
    clerkEmulatorPort: integer('CLERK_EMULATOR_PORT', 4001, 0, 65535),
    clerkEmulatorLatencyMs: integer('CLERK_EMULATOR_LATENCY_MS', 200, 0, 60_000),
  };

  if (clerkSecretKey === undefined && (production || !development)) {
    problems.push(
      production
        ? 'CLERK_SECRET_KEY is required when NODE_ENV=production (the embedded emulator is for development)'
        : 'CLERK_SECRET_KEY is required: this build talks to Clerk only (for the embedded emulator, run `npm start` from a checkout)',
    );
  }
  if (config.adminPort !== 0 && config.adminPort === config.port) {
    problems.push('ADMIN_PORT must differ from PORT: /metrics is served on its own listener');
  }
  if (config.corsOrigins.includes('null')) {
    // Sandboxed iframes and file: pages send `Origin: null`: allowing it allows all of them.
    problems.push('CORS_ORIGINS must not contain null (the origin of sandboxed and file: pages)');
  }
  if (config.trustedDocumentsOnly && config.trustedDocumentsManifest === undefined) {
    problems.push('TRUSTED_DOCUMENTS_ONLY needs TRUSTED_DOCUMENTS_MANIFEST (the documents to accept)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
