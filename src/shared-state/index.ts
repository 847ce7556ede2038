/**
 * The Redis layer, composed: present only with `REDIS_URL`, and the one place its parts are put together (every
 * client they use made by `connection.ts`). What it shares between replicas, and how:
 *
 * - **Effects of webhooks** (`redis-bus.ts`): the replica that got a webhook applies it, drops the second-level
 *   copies it makes stale (and their leases), records its revocations in Redis, and publishes its effects, in one
 *   MULTI sent in the same tick as the local apply; every other replica applies the same effects with the same
 *   applier (revocations, invalidations, refresh-ahead, ended sessions, so live streams on every replica get their
 *   events).
 * - **A second-level cache and a cluster-wide single flight** (`shared-source.ts`), under the team cache.
 * - **Webhook dedupe** (`dedupe.ts`) and **revocation records** (`shared-revocations.ts`).
 * - **The Clerk budget's store** (`shared-budget-store.ts`): one window of call starts and Clerk's pauses for all
 *   replicas, on a client of its own; the call policy's gate decides with it (src/clerk/upstream/shared-budget.ts).
 * - **Idempotency keys** (`idempotency-store.ts`) and **write limits** (`writeLimiter`, rate-limiter-flexible's
 *   Redis limiter) of team actions: a retry or a write on any replica sees the same keys and counts.
 *
 * The team cache stays the single owner of what a replica knows; Redis is a transport and a second level under it.
 * Redis down: everything here steps aside (see `connection.ts`); effects that could not be published are kept
 * (bounded) and published when Redis is back, and the webhook is not answered 2xx (Clerk retries it).
 *
 * **A replica that cannot hear the bus** (`redis-bus.ts` owns the verdict) may have missed removals. While it is
 * deaf, `unconfirmedUpTo` tells the revocation records (src/team/revocations.ts) the date at or before which no
 * evidence counts: when it last heard the bus, or `outageEvidenceMs` ago if later (now, for a replica that has never
 * heard it). So it authorizes only from what it read from Clerk since, and briefly (a membership list read again
 * when older), never from a token's claim; when the bus is back it invalidates everything, reads the revocation
 * records, and trusts its cache again.
 */

import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import { type RateLimiterAbstract, RateLimiterRedis } from 'rate-limiter-flexible';
import type { IdempotencyStore } from '../actions/idempotency.js';
import type { LimiterSpec } from '../actions/write-limits.js';
import type { Logger } from '../observability/logger.js';
import { spanEvent } from '../observability/tracing.js';
import type { CacheKind, TeamCache } from '../team/cache.js';
import type { EventEffects, WebhookSharing } from '../team/effects.js';
import type { Revocations } from '../team/revocations.js';
import type { TeamSource } from '../team/types.js';
import type { OrganizationLease } from '../team/writer.js';
import {
  createRedisClient,
  createRedisConnection,
  type RedisConnection,
  type RedisDownReason,
} from './connection.js';

export type { RedisDownReason };

import { createCopyStore } from './copies.js';
import { createSharedDedupe } from './dedupe.js';
import { createRedisIdempotencyStore } from './idempotency-store.js';
import { sharedKeys } from './keys.js';
import { createOrganizationLease } from './organization-lease.js';
import { createSharedBus } from './redis-bus.js';
import { createSharedStateMetrics } from './redis-metrics.js';
import { type BudgetStore, createSharedBudgetStore } from './shared-budget-store.js';
import { createSharedRevocations } from './shared-revocations.js';
import { createSharedSource } from './shared-source.js';
import { createClusterSingleFlight } from './single-flight.js';

export { registerSharedBudgetMetrics } from './redis-metrics.js';
export { budgetNamespace } from './shared-budget-store.js';

export interface SharedStateOptions {
  url: string;
  /** REDIS_TIMEOUT_MS. */
  timeoutMs: number;
  /** REDIS_HEARTBEAT_MS. */
  heartbeatMs: number;
  /** REDIS_OUTAGE_EVIDENCE_MS: while the bus is not heard, how long evidence read from Clerk counts. */
  outageEvidenceMs: number;
  /** REDIS_KEY_PREFIX. */
  prefix: string;
  /** The cache TTL: how long a copy is fresh. */
  ttlMs: number;
  /** How long revocation records are kept (as the local ones). */
  revocationRetentionMs: number;
  /** The webhook route's dedupe window. */
  dedupeWindowMs: number;
  /**
   * Which Clerk budget this replica shares (`budgetNamespace` of the Clerk secret key): replicas of one Clerk
   * application share one window.
   */
  budgetNamespace: string;
  logger: Logger;
  registry: Registry;
}

/** What a replica hands the Redis layer once its cache and webhook route exist. */
export interface SharedReplica {
  cache: Pick<TeamCache, 'invalidateAll'>;
  revocations: Revocations;
  /**
   * The replica's effect applier (the same function for a webhook received here and one heard on the bus). Returns
   * the organizations whose cached copies it changed or invalidated.
   */
  applyEffects(effects: EventEffects): string[];
}

export interface SharedState {
  /** The bus's and the shared data's connections (for operators and tests). */
  readonly connection: RedisConnection;
  /** Where the replicas keep their one Clerk budget (the call policy's shared gate asks it). */
  readonly budgetStore: BudgetStore;
  /**
   * Undefined while this replica hears the bus. Otherwise the epoch ms at or before which evidence read from Clerk
   * grants nothing (and a token's claim grants nothing at all): a removal may have been announced unheard since.
   */
  unconfirmedUpTo(): number | undefined;
  /**
   * Idempotency keys of team actions, for every replica. Rejects while Redis is unreachable or silent: the keyed
   * mutation is then refused, never run on a guess (see idempotency-store.ts).
   */
  readonly idempotencyStore: IdempotencyStore;
  /**
   * A write limiter counted in Redis for every replica; when Redis fails (down, or past REDIS_TIMEOUT_MS) it counts
   * with `spec.insurance`, in this replica (src/actions/write-limits.ts).
   */
  writeLimiter(spec: LimiterSpec): RateLimiterAbstract;
  /** Whether Redis is usable (the bus heard), and why not. */
  health(): { up: boolean; reason: RedisDownReason };
  /** Redis has accepted this replica at least once (connected, subscribed, caught up): until then it is not ready. */
  accepted(): boolean;
  /** Puts the second level and the cluster-wide single flight under the cache's source. */
  shareReads(source: TeamSource): TeamSource;
  /** The webhook route's shared dedupe and publishing. */
  readonly webhooks: WebhookSharing;
  /** Team actions: one at a time per organization across replicas, and their effects told to the others. */
  readonly actions: {
    lease: OrganizationLease;
    /** As a webhook's (`webhooks.applied` without a delivery ID): true once told, false when owed. */
    published(effects: EventEffects, touched: string[]): Promise<boolean>;
  };
  /** Connects the bus to this replica. Call once. */
  attach(replica: SharedReplica): void;
  /** Closes every connection: call after the Clerk budget's gate has closed (it leaves through `budgetStore`). */
  close(): Promise<void>;
}

/** Effects kept while Redis is down, to publish when it is back; past this, one "invalidate everything" instead. */
const MAX_OWED = 1000;
const ALL: EventEffects = { invalidations: [{ kind: 'all' }], revocations: [] };

/** The cache entries (kind, id) whose copies a webhook makes stale. */
function staleEntries(effects: EventEffects, touched: readonly string[]): [CacheKind, string][] {
  const entries: [CacheKind, string][] = [];
  const organizations = new Set(touched);
  for (const invalidation of effects.invalidations) {
    if (invalidation.kind === 'organization') organizations.add(invalidation.organizationId);
    else if (invalidation.kind === 'userMemberships') entries.push(['user_memberships', invalidation.userId]);
  }
  for (const id of organizations) entries.push(['members', id], ['invitations', id]);
  return entries;
}

/**
 * Applies effects heard on the bus in the route's order (revocations, patches, invalidations, ended sessions), each
 * patch on its own: one that cannot be applied (another version's delta, say) becomes the invalidation of what it
 * would have patched, and never keeps the items after it from being applied. Returns the organizations touched.
 */
function applyEachPatchAlone(replica: SharedReplica, effects: EventEffects, logger: Logger): string[] {
  const touched = replica.applyEffects({ invalidations: [], revocations: effects.revocations });
  for (const patch of effects.patches ?? []) {
    try {
      touched.push(
        ...replica.applyEffects({
          invalidations: [],
          revocations: [],
          patches: [patch],
          ...(effects.settleNow ? { settleNow: true } : {}),
        }),
      );
    } catch (error) {
      logger.warn('could not apply a patch heard on the Redis bus: invalidating instead', { error });
      const { delta, reason } = patch;
      touched.push(
        ...replica.applyEffects({
          invalidations: [
            delta.kind === 'profile'
              ? { kind: 'user', userId: delta.userId, reason }
              : { kind: 'organization', organizationId: delta.organizationId, reason },
          ],
          revocations: [],
        }),
      );
    }
  }
  const { patches: _, ...rest } = effects;
  touched.push(...replica.applyEffects({ ...rest, revocations: [] }));
  return touched;
}

export function createSharedState(options: SharedStateOptions): SharedState {
  const { logger } = options;
  const replicaId = randomUUID();
  const keys = sharedKeys(options.prefix);
  const connection = createRedisConnection({ url: options.url, timeoutMs: options.timeoutMs, logger });
  // A holder renews its lease every third of it: long enough to ride out one slow Redis reply, short enough that a
  // dead holder's waiters take over well within a request's deadline.
  const leaseMs = Math.max(500, options.timeoutMs * 4);
  const copies = createCopyStore(connection, keys, options.ttlMs);
  const sharedRevocations = createSharedRevocations(connection, keys, options.revocationRetentionMs);
  // A webhook's claim need outlive only its processing: one apply and one MULTI, bounded by REDIS_TIMEOUT_MS.
  const dedupe = createSharedDedupe(connection, keys, options.dedupeWindowMs, leaseMs);
  // Its own client: a reservation is on the path of every Clerk call and must not wait behind a copy being written.
  const budgetClient = createRedisClient({ url: options.url, role: 'budget', timeoutMs: options.timeoutMs });
  const budgetStore = createSharedBudgetStore({
    client: budgetClient,
    timeoutMs: options.timeoutMs,
    namespace: options.budgetNamespace,
    keyPrefix: options.prefix,
  });
  let replica: SharedReplica | undefined;
  let owed: { effects: EventEffects; touched: string[] }[] = [];
  let owedOverflow = false;

  const bus = createSharedBus({
    connection,
    channel: keys.bus,
    replicaId,
    heartbeatMs: options.heartbeatMs,
    logger,
    observe: (direction, type) => metrics.busMessage(direction, type),
    handlers: {
      effects(effects, touched) {
        if (!replica) return;
        const here = applyEachPatchAlone(replica, effects, logger);
        // Rosters this replica holds with an updated user that the publisher did not hold: their copies go too.
        const known = new Set(touched);
        const extra = here.filter((id) => !known.has(id));
        if (extra.length > 0)
          copies.drop(staleEntries({ invalidations: [], revocations: [] }, extra)).catch(failed);
      },
      copy: (key) => flight.notice(key),
      onConnected() {
        if (!replica) return;
        // Whatever was said while this replica was away is lost: nothing it holds can be trusted to be current.
        metrics.reconnectInvalidation();
        replica.cache.invalidateAll();
        const backlog = owedOverflow ? [{ effects: ALL, touched: [] }] : owed;
        owed = [];
        owedOverflow = false;
        for (const { effects, touched } of backlog) void publishEffects(effects, touched);
      },
      // The removals recorded while it was away: until they are read, the bus does not count as heard.
      async catchUp() {
        if (!replica) throw new Error('no replica attached yet');
        await sharedRevocations.load(replica.revocations).catch((error: unknown) => {
          failed();
          throw error;
        });
      },
    },
  });
  function health(): { up: boolean; reason: RedisDownReason } {
    const state = bus.state();
    if (state === 'hearing') return { up: true, reason: 'none' };
    if (connection.refusal()) return { up: false, reason: 'refused' };
    return { up: false, reason: state === 'disconnected' ? 'unreachable' : state };
  }
  const metrics = createSharedStateMetrics(options.registry, health);
  const failed = () => metrics.failure();
  const flight = createClusterSingleFlight({
    connection,
    keys,
    leaseMs,
    noticeFor: (key) => bus.encode({ t: 'copy', from: replicaId, key }),
  });

  const owe = (effects: EventEffects, touched: string[]) => {
    if (owed.length >= MAX_OWED) owedOverflow = true;
    else owed.push({ effects, touched });
  };

  /**
   * Drops stale copies, records revocations, publishes (and marks the webhook delivery done, when given), in one
   * MULTI sent before this function returns. True once Redis acknowledged it; false when the effects are owed.
   */
  function publishEffects(effects: EventEffects, touched: string[], messageId?: string): Promise<boolean> {
    if (!connection.isUp()) {
      owe(effects, touched);
      return Promise.resolve(false);
    }
    const names = staleEntries(effects, touched).flatMap(([kind, id]) => [
      keys.copy(kind, id),
      keys.lease(kind, id),
    ]);
    const multi = connection.command.multi();
    if (names.length > 0) multi.unlink(...names);
    if (effects.revocations.length > 0) {
      multi.hset(keys.revocations, ...sharedRevocations.fields(effects.revocations, Date.now()));
      multi.pexpire(keys.revocations, options.revocationRetentionMs);
    }
    multi.publish(keys.bus, bus.encode({ t: 'effects', from: replicaId, effects, touched }));
    if (messageId !== undefined) multi.set(...dedupe.done(messageId));
    metrics.busMessage('out', 'effects');
    const everything = effects.invalidations.some((invalidation) => invalidation.kind === 'all');
    return multi
      .exec()
      .then((replies) => {
        // A command refused inside the MULTI (an ACL) comes back as an error reply, not a rejection.
        const refused = replies?.find(([error]) => error)?.[0];
        if (refused || !replies) throw refused ?? new Error('MULTI aborted');
        if (everything) copies.dropAll().catch(failed);
        return true;
      })
      .catch((error: unknown) => {
        failed();
        connection.noticeError(error);
        owe(effects, touched);
        logger.debug('could not publish webhook effects to the other replicas; kept for when Redis is back', {
          error,
        });
        return false;
      });
  }

  return {
    connection,
    budgetStore,
    idempotencyStore: createRedisIdempotencyStore({ connection, keyOf: keys.idempotency }),
    writeLimiter: ({ name, points, durationSeconds, insurance }) =>
      new RateLimiterRedis({
        storeClient: connection.command,
        keyPrefix: keys.writeLimit(name),
        points,
        duration: durationSeconds,
        // Down: straight to the insurance limiter; a command Redis does not answer fails after REDIS_TIMEOUT_MS.
        rejectIfRedisNotReady: true,
        insuranceLimiter: insurance,
      }),
    unconfirmedUpTo() {
      const since = bus.deafSince();
      if (since === undefined) return undefined;
      // Never heard the bus (a wrong password, say): not ready, so a load balancer sends it next to nothing, and
      // what it does get is authorized from a Clerk read of its own, none cached: a removal holds there at once.
      if (!bus.everHeard()) return Date.now();
      return Math.max(since, Date.now() - options.outageEvidenceMs);
    },
    health,
    accepted: () => bus.everHeard(),
    shareReads: (source) =>
      createSharedSource({
        inner: source,
        connection,
        copies,
        flight,
        ttlMs: options.ttlMs,
        leaseMs,
        observe: (kind, outcome) => {
          metrics.sharedRead(kind, outcome);
          // On the span of the read's first requester: `hit` = answered from another replica's shared copy.
          spanEvent('cache.shared_read', { 'team.cache.part': kind, 'team.cache.shared': outcome });
        },
        failed,
      }),
    webhooks: {
      claim: (messageId) => dedupe.claim(messageId),
      applied: publishEffects,
    },
    actions: {
      lease: createOrganizationLease(connection, keys, logger),
      published: (effects, touched) => publishEffects(effects, touched),
    },
    attach(attached) {
      // Called in the same tick as createSharedState (see app.ts): no connect can have happened before it.
      replica = attached;
    },
    async close() {
      bus.close();
      await connection.close();
      budgetClient.disconnect();
    },
  };
}
