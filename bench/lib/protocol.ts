/** Messages between the harness (bench/run.ts) and its child processes (load worker, memory probe). */

/** One load run, as the load worker receives it. */
export interface LoadScenario {
  name: string;
  /** Full URL of the GraphQL endpoint. */
  url: string;
  headers: Record<string, string>;
  /** Request bodies, used round-robin (or each exactly once with `distinct`). */
  bodies: string[];
  /** Every request gets a body of its own (cold organizations); requires `amount` ≤ bodies.length. */
  distinct?: boolean;
  connections: number;
  /** Measured period in seconds, or… */
  durationSeconds?: number;
  /** …a fixed number of requests. */
  amount?: number;
  /** Warm-up before the measured period (0: none), with its own bodies when given (distinct for cold runs). */
  warmup?: { durationSeconds?: number; amount?: number; bodies?: string[]; connections?: number };
  /** Per-request timeout in seconds. */
  timeoutSeconds: number;
  /**
   * autocannon's sampling interval (its `sampleInt`), ms; default 1000. A run ends only on one of these ticks, so
   * it lasts at least this long and a whole number of ticks: a smoke run shortens it to end its runs early.
   */
  sampleIntervalMs?: number;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  name: string;
  /** Measured wall time of the run, seconds. */
  seconds: number;
  /** Responses received (any status). */
  responses: number;
  requestsPerSecond: number;
  /** Latency of every response, from autocannon's per-response times (sub-millisecond precision), ms. */
  latency: LatencySummary;
  statusCodes: Record<string, number>;
  non2xx: number;
  /** Socket errors and timeouts (autocannon `errors`, which includes `timeouts`). */
  socketErrors: number;
  timeouts: number;
  /** Responses whose body holds a GraphQL `errors` member (every response is checked). */
  graphqlErrors: number;
  /** Responses saying `"fromCache":true` / `false` (team queries only). */
  fromCacheTrue: number;
  fromCacheFalse: number;
  /** A few error bodies, for the report. */
  errorSamples: string[];
  /** autocannon's own result object (its latency histogram has 1 ms resolution). */
  autocannon: unknown;
}

export type ParentToWorker = { type: 'run'; scenario: LoadScenario } | { type: 'measure' };

export type WorkerToParent =
  | { type: 'warmed' }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };

export interface MemoryRequest {
  type: 'run';
  /** Which build of src/team to load: the one the server runs. */
  entry: 'dist' | 'src';
  apiUrl: string;
  secretKey: string;
  /** Read (and keep) before the baseline, so modules, JIT and connection pools are not counted. */
  warmupOrganizationIds: string[];
  organizationIds: string[];
  concurrency: number;
}

export interface MemoryResult {
  organizations: number;
  members: number;
  cachedMembers: number;
  heapUsedBefore: number;
  heapUsedAfter: number;
  bytesPerMember: number;
  readSeconds: number;
}

export type MemoryToParent = { type: 'result'; result: MemoryResult } | { type: 'error'; message: string };
