/**
 * Traces (OpenTelemetry), off unless the standard OTEL_* variables ask for them (src/config.ts reads them).
 *
 * Our modules speak only to the OpenTelemetry API (`@opentelemetry/api`): with no SDK registered every tracer is a
 * no-op, so tracing off costs a few small objects per request and no export at all. `startTracing` loads and
 * registers the SDK only when an endpoint is configured (the SDK's modules are not even imported otherwise):
 * an AsyncLocalStorage context manager (a span stays current across awaits), the W3C `traceparent` propagator, the
 * configured sampler, and a batch processor exporting OTLP over HTTP (`http/protobuf` or `http/json`).
 *
 * Spans and what they carry (docs/tracing.md): IDs, names, counts and outcomes, never an email, a token, a query
 * string or variables.
 */
import { type Attributes, trace } from '@opentelemetry/api';

export type TracesSampler =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

export type TracesProtocol = 'http/protobuf' | 'http/json';

export interface TracingOptions {
  /** Full URL spans are POSTed to (…/v1/traces). Undefined: tracing off, nothing loaded. */
  endpoint: string | undefined;
  /** OTLP encoding over HTTP. @default 'http/protobuf' (OTEL_EXPORTER_OTLP_PROTOCOL's default) */
  protocol: TracesProtocol;
  /** `service.name` of every span. @default 'team-graphql' */
  serviceName: string;
  /** @default 'parentbased_always_on' (the specification's) */
  sampler: TracesSampler;
  /** The ratio of the `*traceidratio` samplers, 0–1. @default 1 */
  samplerArg: number;
  /** Delay between two exports of the batch processor, ms (OTEL_BSP_SCHEDULE_DELAY). @default 5000 */
  scheduleDelayMs: number;
  /** `service.version`. @default none */
  serviceVersion?: string;
}

export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /**
   * Exports every span ended so far (bounded by `FLUSH_TIMEOUT_MS`: a collector that does not answer must not hold a
   * shutdown). Resolves, never rejects.
   */
  flush(): Promise<void>;
  /** Flushes, then stops the exporter. Resolves, never rejects. */
  shutdown(): Promise<void>;
}

/** The longest a flush or an export may take: well inside the platform's kill timeout after SHUTDOWN_GRACE_MS. */
const FLUSH_TIMEOUT_MS = 5000;

const off: Tracing = { enabled: false, flush: async () => {}, shutdown: async () => {} };

/** Registers the OpenTelemetry SDK when `endpoint` is set; otherwise leaves the API's no-op in place. */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (options.endpoint === undefined) return off;
  const [
    api,
    sdk,
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    resources,
    exporterModule,
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    options.protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const ratio = new sdk.TraceIdRatioBasedSampler(options.samplerArg);
  const root = {
    always_on: new sdk.AlwaysOnSampler(),
    always_off: new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new sdk.AlwaysOnSampler(),
    parentbased_always_off: new sdk.AlwaysOffSampler(),
    parentbased_traceidratio: ratio,
  }[options.sampler];
  const sampler = options.sampler.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root }) : root;
  const exporter = new exporterModule.OTLPTraceExporter({
    url: options.endpoint,
    timeoutMillis: FLUSH_TIMEOUT_MS,
  });
  const provider = new sdk.TracerProvider({
    sampler,
    resource: resources.resourceFromAttributes({
      'service.name': options.serviceName,
      ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
    }),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: options.scheduleDelayMs,
        exportTimeoutMillis: FLUSH_TIMEOUT_MS,
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  api.context.setGlobalContextManager(contextManager);
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);

  const bounded = (work: Promise<unknown>) =>
    Promise.race([
      work.catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS).unref()),
    ]);
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    async flush() {
      await bounded(provider.forceFlush());
    },
    shutdown() {
      stopped ??= (async () => {
        await bounded(provider.shutdown());
        contextManager.disable();
      })();
      return stopped;
    },
  };
}

/**
 * Adds an event to the current span when it is recorded; nothing otherwise (tracing off, or this trace sampled
 * out): one lookup.
 */
export function spanEvent(name: string, attributes: Attributes): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.addEvent(name, attributes);
}

/**
 * The team cache's observer (its metrics) that also marks each read's outcome on the current span: event
 * `cache.read` with `team.cache.part` (members, invitations, user_memberships) and `team.cache.outcome` (hit, miss,
 * inflight = joined a read under way, stale, not_found). Structural, so this module imports nothing of ours.
 */
export function traceCacheReads<O extends { read(part: string, outcome: string): void }>(observer: O): O {
  return {
    ...observer,
    read(part: string, outcome: string) {
      observer.read(part, outcome);
      spanEvent('cache.read', { 'team.cache.part': part, 'team.cache.outcome': outcome });
    },
  };
}
