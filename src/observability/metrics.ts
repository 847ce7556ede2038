/**
 * Prometheus metrics (prom-client), one registry per app so several apps in one process (tests) stay apart.
 * The team and webhook modules report through small observer interfaces and never import prom-client.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import {
  type CircuitState,
  UPSTREAM_ROUTES,
  type Upstream,
  type UpstreamObserver,
} from '../clerk/upstream.js';
import type { LiveStreams, LiveStreamsObserver } from '../subscriptions/live-streams.js';
import type { CacheObserver, TeamCache } from '../team/cache.js';

export interface Metrics {
  registry: Registry;
  cache: CacheObserver;
  upstream: UpstreamObserver;
  /** Live streams (`subscription { teamChanged }`): ends, refusals and changes delivered. */
  live: LiveStreamsObserver;
  /** Counts one HTTP response by route and status. */
  httpResponse(route: string, status: number): void;
  /** Exposes live values read at scrape time. */
  watch(sources: {
    cache: TeamCache;
    webhookOutcomes: () => Map<string, number>;
    /** Queue length and calls in flight toward Clerk. */
    upstream?: Pick<Upstream, 'stats'>;
    /** Open live streams. */
    liveStreams?: Pick<LiveStreams, 'stats'>;
  }): void;
}

/** `counter.labels(...)`, remembered per label combination. */
const children = new WeakMap<Counter<string>, Map<string, ReturnType<Counter<string>['labels']>>>();
function child(counter: Counter<string>, ...labels: string[]) {
  let byLabels = children.get(counter);
  if (!byLabels) {
    byLabels = new Map();
    children.set(counter, byLabels);
  }
  const key = labels.join('\u0000');
  let found = byLabels.get(key);
  if (!found) {
    found = counter.labels(...labels);
    byLabels.set(key, found);
  }
  return found;
}

const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const cacheReads = new Counter({
    name: 'team_cache_reads_total',
    help:
      'Team cache reads by part (members = rosters, invitations, user_memberships = membership lists) and outcome ' +
      '(hit, miss, inflight = joined a read under way, stale, not_found).',
    labelNames: ['part', 'outcome'] as const,
    registers: [registry],
  });
  const cacheDrift = new Counter({
    name: 'team_cache_drift_total',
    help:
      'Full re-reads (TTL or forced) of a webhook-patched roster (part=members) or invitation list (invitations) ' +
      'that differed from the patched copy. Zero is the proof that patching from webhooks is right.',
    labelNames: ['part'] as const,
    registers: [registry],
  });
  const clerkDuration = new Histogram({
    name: 'clerk_request_duration_seconds',
    help: 'Duration of Clerk Backend API calls.',
    labelNames: ['route', 'outcome'] as const,
    buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const clerkRequests = new Counter({
    name: 'clerk_requests_total',
    help: 'Clerk Backend API calls by route, outcome and HTTP status (none for timeouts and network errors).',
    labelNames: ['route', 'outcome', 'status'] as const,
    registers: [registry],
  });
  const budgetWaits = new Counter({
    name: 'clerk_rate_limit_waits_total',
    help: 'Clerk calls that waited for our request budget (CLERK_RATE_LIMIT).',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const budgetWaitSeconds = new Counter({
    name: 'clerk_rate_limit_wait_seconds_total',
    help: 'Total time Clerk calls waited for our request budget.',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const blocked = new Counter({
    name: 'clerk_requests_blocked_total',
    help: 'Clerk calls not made because Clerk asked us to back off (429 Retry-After).',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'clerk_calls_refused_total',
    help: 'Clerk calls not made by our own policy, by reason: queue_full, caller_limit, deadline, circuit_open, abandoned, shutdown.',
    labelNames: ['route', 'reason'] as const,
    registers: [registry],
  });
  const circuitState = new Gauge({
    name: 'clerk_circuit_state',
    help: 'Circuit breaker per Clerk route: 0 closed, 1 half-open, 2 open.',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  for (const route of UPSTREAM_ROUTES) circuitState.set({ route }, 0);
  const liveEnded = new Counter({
    name: 'team_subscriptions_ended_total',
    help:
      'Live streams ended, by cause: forbidden (access revoked), session_ended (Clerk ended the session), expired ' +
      '(maximum lifetime or token expiry), shutdown, client (the client went away).',
    labelNames: ['cause'] as const,
    registers: [registry],
  });
  const liveRefused = new Counter({
    name: 'team_subscriptions_refused_total',
    help: 'Subscriptions refused with TOO_MANY_STREAMS, by limit: user (per user) or process.',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const liveChanges = new Counter({
    name: 'team_subscription_changes_total',
    help: "Organization changes delivered to this process's live streams (once per change, not per stream), by reason.",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const httpResponses = new Counter({
    name: 'http_responses_total',
    help: 'HTTP responses by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });

  return {
    registry,
    // Hot path (every query): label children are looked up once and kept, instead of hashing labels per call.
    cache: {
      read: (part, outcome) => child(cacheReads, part, outcome).inc(),
      drift: (part) => child(cacheDrift, part).inc(),
    },
    upstream: {
      called(route, outcome, status, durationMs) {
        clerkDuration.observe({ route, outcome }, durationMs / 1000);
        clerkRequests.inc({ route, outcome, status: status === undefined ? 'none' : String(status) });
      },
      budgetWait(route, waitedMs) {
        budgetWaits.inc({ route });
        budgetWaitSeconds.inc({ route }, waitedMs / 1000);
      },
      blocked: (route) => blocked.inc({ route }),
      refused: (route, reason) => refused.inc({ route, reason }),
      circuitChanged: (route, state) => circuitState.set({ route }, CIRCUIT_STATE_VALUE[state]),
    },
    live: {
      ended: (cause) => child(liveEnded, cause).inc(),
      refused: (limit) => child(liveRefused, limit).inc(),
      changed(reasons) {
        for (const reason of reasons) child(liveChanges, reason).inc();
      },
    },
    httpResponse: (route, status) => child(httpResponses, route, String(status)).inc(),
    watch({ cache, webhookOutcomes, upstream, liveStreams }) {
      const cacheGauge = (
        name: string,
        help: string,
        read: (stats: ReturnType<TeamCache['stats']>) => number,
      ) =>
        new Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set(read(cache.stats()));
          },
        });
      cacheGauge(
        'team_cache_entries',
        'Entries in the team cache (rosters, invitation lists and membership lists).',
        (s) => s.entries,
      );
      cacheGauge(
        'team_cache_members',
        'Size of the team cache in members (the unit of CACHE_MAX_MEMBERS).',
        (s) => s.members,
      );
      cacheGauge(
        'team_cache_reads_in_flight',
        'Clerk reads under way on behalf of the cache.',
        (s) => s.inFlight,
      );
      if (upstream) {
        new Gauge({
          name: 'clerk_queue_length',
          help: 'Clerk calls waiting for the request budget (bounded by CLERK_QUEUE_MAX).',
          registers: [registry],
          collect() {
            this.set(upstream.stats().queued);
          },
        });
        new Gauge({
          name: 'clerk_requests_in_flight',
          help: 'Clerk calls sent and not yet answered or given up on.',
          registers: [registry],
          collect() {
            this.set(upstream.stats().inFlight);
          },
        });
      }
      if (liveStreams) {
        new Gauge({
          name: 'team_subscriptions_open',
          help: 'Live streams (subscription teamChanged) open in this process.',
          registers: [registry],
          collect() {
            this.set(liveStreams.stats().open);
          },
        });
        new Gauge({
          name: 'team_subscription_organizations',
          help: 'Organizations with at least one open live stream in this process (one bus subscription each).',
          registers: [registry],
          collect() {
            this.set(liveStreams.stats().organizations);
          },
        });
      }
      new Counter({
        name: 'webhook_deliveries_total',
        help: 'Clerk webhook deliveries by event type and outcome.',
        labelNames: ['event_type', 'outcome'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const [key, count] of webhookOutcomes()) {
            const [eventType = 'unknown', outcome = 'unknown'] = key.split(' ');
            this.inc({ event_type: eventType, outcome }, count);
          }
        },
      });
    },
  };
}
