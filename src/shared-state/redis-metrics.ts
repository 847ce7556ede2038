/**
 * The Redis layer's series on the app's Prometheus registry (one registry per app, so in-process test replicas stay
 * apart). Kept here rather than in src/observability/metrics.ts so that an app without REDIS_URL shows none of them.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CacheKind } from '../team/cache.js';
import type { RedisDownReason } from './connection.js';
import type { BusMessage } from './redis-bus.js';
import type { SharedReadOutcome } from './shared-source.js';

export interface SharedStateMetrics {
  busMessage(direction: 'in' | 'out', type: BusMessage['t']): void;
  sharedRead(kind: CacheKind, outcome: SharedReadOutcome): void;
  /** The local cache was invalidated as a whole because the bus (re)connected. */
  reconnectInvalidation(): void;
  /** A Redis step failed and the replica went on without it. */
  failure(): void;
}

export function createSharedStateMetrics(
  registry: Registry,
  health: () => { up: boolean; reason: RedisDownReason },
): SharedStateMetrics {
  new Gauge({
    name: 'redis_up',
    help:
      'Whether this replica hears the bus between replicas (1) or not (0: it serves from its own cache, reads Clerk ' +
      'itself and counts only evidence it read from Clerk recently), and why not: refused (authentication or ACL), ' +
      'unreachable, silent (nothing heard for two heartbeats), catching_up (reading the revocation records); ' +
      'none while up. One series at a time.',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const { up, reason } = health();
      this.reset();
      this.set({ reason }, up ? 1 : 0);
    },
  });
  const bus = new Counter({
    name: 'redis_bus_messages_total',
    help: 'Messages on the bus between replicas, by direction (in, out) and type (effects, copy, heartbeat).',
    labelNames: ['direction', 'type'] as const,
    registers: [registry],
  });
  const reads = new Counter({
    name: 'redis_shared_reads_total',
    help:
      'Local cache misses by part and how Redis answered: hit (a copy another replica read), lead (this replica ' +
      'held the lease and read Clerk), bypass (Redis down or failed: Clerk read directly), refused (an invalidation ' +
      'came first: Clerk read directly).',
    labelNames: ['part', 'outcome'] as const,
    registers: [registry],
  });
  const invalidations = new Counter({
    name: 'redis_reconnect_invalidations_total',
    help: 'Times the whole local cache was invalidated because the bus (re)connected (messages may have been lost).',
    registers: [registry],
  });
  const failures = new Counter({
    name: 'redis_failures_total',
    help: 'Redis steps that failed or timed out (the replica went on without Redis for that step).',
    registers: [registry],
  });
  return {
    busMessage: (direction, type) => bus.inc({ direction, type }),
    sharedRead: (part, outcome) => reads.inc({ part, outcome }),
    reconnectInvalidation: () => invalidations.inc(),
    failure: () => failures.inc(),
  };
}

/** The shared Clerk budget's gate as its metrics read it (src/clerk/upstream/shared-budget.ts). */
export interface SharedBudgetState {
  readonly mode: 'shared' | 'local';
  stats(): { replicas: number };
}

/**
 * `clerk_budget_mode{mode="shared|local"}` (1 for the mode in force) and `clerk_budget_replicas`, in /metrics: only
 * with REDIS_URL, like the rest of this file.
 */
export function registerSharedBudgetMetrics(registry: Registry, budget: SharedBudgetState): void {
  new Gauge({
    name: 'clerk_budget_mode',
    help: 'Whether the Clerk request budget is shared through Redis (1 on mode="shared") or this replica keeps to its local share because Redis is unreachable (1 on mode="local")',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      this.set({ mode: 'shared' }, budget.mode === 'shared' ? 1 : 0);
      this.set({ mode: 'local' }, budget.mode === 'local' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'clerk_budget_replicas',
    help: 'Replicas sharing the Clerk request budget, as last seen through Redis',
    registers: [registry],
    collect() {
      this.set(budget.stats().replicas);
    },
  });
}
