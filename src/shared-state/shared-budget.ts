/**
 * The Clerk request budget shared by every replica through Redis, and Clerk's 429 pauses with it.
 *
 * Clerk limits requests per application (secret key), not per process: N replicas each keeping `CLERK_RATE_LIMIT`
 * alone would make N times as many calls and all get 429s. Here the window is one sorted set in Redis (one member per
 * call start, scored by Redis's own clock), and each reservation is one Lua script (./shared-budget-scripts.ts):
 * prune the starts older than the window, count, add up to the starts asked for while under the limit, or say when
 * the next slot opens. The same script reads each waiting route's pause key, which a 429's `Retry-After` sets (with
 * PX) on every replica's behalf, so a route Clerk paused gets no slot anywhere.
 *
 * Redis failing is not an outage. Every command has a bounded timeout and nothing waits in an offline queue; the
 * first command that fails or times out switches this replica to a *local share*: its own sliding window of
 * `limit ÷ live replicas` (the count last seen through the replicas' heartbeats; before any, `assumedReplicas`).
 * So the replicas together still stay within the limit while they cannot coordinate. The switch seeds the local
 * window with this replica's part of the starts last seen in the shared one (and its own starts since), so the
 * window that straddles the switch is not counted twice over. A heartbeat every `heartbeatMs` keeps the replica
 * count fresh and, in local mode, probes Redis: when it answers, the shared window is used again, still bounded by
 * the local share for one more window (Redis may have restarted empty, and the others may still be on their shares).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import {
  type Budget,
  type BudgetGate,
  type BudgetRequest,
  createBudget,
  type Grant,
  paddedWindowMs,
} from '../clerk/upstream/budget.js';
import type { Logger } from '../observability/logger.js';
import { HEARTBEAT, PAUSE, RESERVE } from './shared-budget-scripts.js';

export type BudgetMode = 'shared' | 'local';

export interface SharedBudgetOptions {
  /** A client made by `createBudgetRedis` (bounded command timeout, no offline queue). */
  redis: Redis;
  /**
   * How long a reservation or heartbeat waits for Redis (`REDIS_TIMEOUT_MS`, the same value given to
   * `createBudgetRedis`): slower, and this replica keeps to its local share until a heartbeat is answered in time.
   */
  timeoutMs: number;
  /** Requests toward Clerk per window across all replicas (`CLERK_RATE_LIMIT`). */
  requests: number;
  /** The window as configured (`CLERK_RATE_LIMIT_WINDOW_SECONDS` · 1000); padded 5% like the local budget. */
  windowMs: number;
  /**
   * Which budget: replicas with the same namespace share one. Clerk counts per secret key, so the app passes a hash
   * of it (two deployments on one Redis, test and live keys, do not share).
   */
  namespace: string;
  /** Prepended to every key. @default 'team-graphql:' */
  keyPrefix?: string;
  /**
   * Replicas assumed to share the limit while this one has never seen the live count through Redis
   * (`CLERK_BUDGET_ASSUMED_REPLICAS`). @default 3
   */
  assumedReplicas?: number;
  /** How often a replica says it is alive (and, in local mode, looks whether Redis is back). @default 1000 */
  heartbeatMs?: number;
  logger?: Logger;
  /** Told on every switch between the shared window and the local share. */
  onModeChange?(mode: BudgetMode): void;
  now?: () => number;
}

export interface SharedBudgetStats {
  mode: BudgetMode;
  /** Live replicas as last seen through Redis (heartbeats); `assumedReplicas` before the first. */
  replicas: number;
  /** The starts per window this replica allows itself while Redis is unreachable. */
  localShare: number;
}

export interface SharedBudget extends BudgetGate {
  readonly mode: BudgetMode;
  stats(): SharedBudgetStats;
  /** One heartbeat now (else every `heartbeatMs`); resolves when it has been answered or has failed. */
  heartbeat(): Promise<void>;
  /** Stops the heartbeat and leaves the live replicas. Does not close the Redis client (its owner does). */
  close(): Promise<void>;
}

/**
 * The Redis client for the budget: every command answers within `commandTimeoutMs` or fails (and the budget falls
 * back to its local share), nothing is queued while disconnected, and it reconnects in the background.
 */
export function createBudgetRedis(url: string, commandTimeoutMs: number): Redis {
  const redis = new Redis(url, {
    // A backstop: the budget waits `commandTimeoutMs` for an answer (see answeredWithin); this ends the command.
    commandTimeout: commandTimeoutMs * 4,
    connectTimeout: Math.max(1000, commandTimeoutMs),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Reconnect forever, at most once a second: the budget works locally meanwhile.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    lazyConnect: false,
  });
  // Connection errors are the mode switch's business (it logs once per outage); without a listener ioredis would
  // print each one.
  redis.on('error', () => {});
  return redis;
}

/** The budget's namespace for a Clerk secret key: replicas of one application share it, and the key never shows. */
export function budgetNamespace(clerkSecretKey: string): string {
  return createHash('sha256').update(clerkSecretKey).digest('hex').slice(0, 16);
}

/** The budget's keys in Redis (for operators and tests): one hash slot, so a cluster keeps them together. */
export function sharedBudgetKeys(namespace: string, keyPrefix = 'team-graphql:') {
  const prefix = `${keyPrefix}{clerk-budget:${namespace}}:`;
  return {
    /** Sorted set: one member per call start in the window, scored by Redis time (ms). */
    window: `${prefix}window`,
    /** Sorted set: one member per live replica, scored by its last heartbeat. */
    replicas: `${prefix}replicas`,
    /** String with PX: set while Clerk's Retry-After pauses the route. */
    pause: (route: string) => `${prefix}pause:${route}`,
  };
}

type BudgetRedis = Redis & {
  clerkBudgetReserve(...args: (string | number)[]): Promise<number[]>;
  clerkBudgetHeartbeat(...args: (string | number)[]): Promise<number[]>;
  clerkBudgetPause(...args: (string | number)[]): Promise<number>;
};

/**
 * A replica that has not said it is alive for this long is counted as gone: several heartbeats, and never less than
 * a few seconds, so a replica whose event loop is busy for a moment still counts (its share would be given away).
 */
const livenessOf = (heartbeatMs: number) => Math.max(5 * heartbeatMs, 5000);

/**
 * Waits at most `ms` for a Redis answer, counting a busy event loop in the answer's favour: when the timer fires late
 * because the process was busy, an answer that arrived meanwhile is read first (a `setImmediate` runs after the
 * socket reads of the same turn of the loop), so a busy replica does not take its own lag for a slow Redis.
 */
function answeredWithin<T>(answer: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new Error(`Redis did not answer within ${ms} ms`));
        }),
      ms,
    );
    answer.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export function createSharedBudget(options: SharedBudgetOptions): SharedBudget {
  const now = options.now ?? (() => Date.now());
  const limit = options.requests;
  const windowMs = paddedWindowMs(options.windowMs);
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const assumedReplicas = options.assumedReplicas ?? 3;
  const livenessMs = livenessOf(heartbeatMs);
  const timeoutMs = options.timeoutMs;
  const replicaId = randomUUID();
  const keys = sharedBudgetKeys(options.namespace, options.keyPrefix);
  const windowKey = keys.window;
  const replicasKey = keys.replicas;
  const pauseKey = keys.pause;

  const redis = options.redis as unknown as BudgetRedis;
  // defineCommand runs EVALSHA and falls back to EVAL once after NOSCRIPT (a restarted Redis has no scripts).
  if (typeof redis.clerkBudgetReserve !== 'function') {
    options.redis.defineCommand('clerkBudgetReserve', { lua: RESERVE });
    options.redis.defineCommand('clerkBudgetHeartbeat', { numberOfKeys: 2, lua: HEARTBEAT });
    options.redis.defineCommand('clerkBudgetPause', { numberOfKeys: 1, lua: PAUSE });
  }

  // Local until the first heartbeat is answered: the client is still connecting, and nothing waits for it.
  let mode: BudgetMode = 'local';
  /** Whether Redis has answered once: a replica that starts while Redis is down warns once, too. */
  let everShared = false;
  let replicas: number | undefined;
  /** The shared window as last seen: starts in it, and when (local clock). */
  let lastSeen: { starts: number; at: number } | undefined;
  /** This replica's own starts in the last window (local clock), to seed the local share. */
  let ownStarts: number[] = [];
  /** The local share's window: in local mode, and for one window after Redis came back. */
  let local: Budget | undefined;
  /** Until when `local` bounds this replica: for ever in local mode, one window after Redis came back. */
  let localUntil = Number.POSITIVE_INFINITY;
  let warnedAtStart = false;
  /** When this replica last fell back to its local share (its starts since are handed in when Redis is back). */
  let wentLocalAt = 0;
  let sequence = 0;
  let closed = false;

  const localShare = () => Math.max(1, Math.floor(limit / (replicas ?? assumedReplicas)));
  local = createBudget({ requests: localShare(), windowMs });

  function recordStarts(count: number, at: number) {
    ownStarts = ownStarts.filter((start) => start + windowMs > at);
    for (let i = 0; i < count; i++) ownStarts.push(at);
  }

  function forgetStarts(count: number) {
    if (count > 0) ownStarts = ownStarts.slice(0, Math.max(0, ownStarts.length - count));
  }

  function setMode(next: BudgetMode, reason?: unknown) {
    if (next === mode) return;
    mode = next;
    if (next === 'shared' && !everShared) {
      everShared = true;
      options.onModeChange?.(next);
      return;
    }
    if (next === 'local') {
      options.logger?.warn(
        'Redis unreachable: the Clerk budget falls back to this replica’s local share until it is back',
        { localShare: localShare(), replicas: replicas ?? assumedReplicas, error: reason },
      );
    } else {
      options.logger?.info('Redis reachable again: the Clerk budget is shared by all replicas again', {});
    }
    options.onModeChange?.(next);
  }

  /** Redis failed: from now on this replica keeps to its local share, starting with what the window already holds. */
  function goLocal(reason: unknown) {
    if (closed) return;
    if (mode === 'local') {
      if (!everShared && !warnedAtStart) {
        warnedAtStart = true;
        options.logger?.warn(
          'Redis unreachable at start: the Clerk budget keeps to this replica’s local share',
          {
            localShare: localShare(),
            error: reason,
          },
        );
      }
      return;
    }
    const t = now();
    const share = localShare();
    const seeded = createBudget({ requests: share, windowMs });
    const seeds: number[] = [];
    // This replica's part of the starts last seen in the shared window: with it, the replicas' shares together
    // leave room only for what the window had left. Plus its own starts since (the others count theirs).
    if (lastSeen && lastSeen.at + windowMs > t) {
      const part = Math.min(share, Math.ceil(lastSeen.starts / (replicas ?? assumedReplicas)));
      for (let i = 0; i < part; i++) seeds.push(lastSeen.at);
      for (const start of ownStarts) if (start > lastSeen.at) seeds.push(start);
    } else {
      seeds.push(...ownStarts);
    }
    for (const start of seeds.sort((a, b) => a - b)) seeded.take(start);
    local = seeded;
    localUntil = Number.POSITIVE_INFINITY;
    wentLocalAt = t;
    setMode('local', reason);
  }

  /** Redis answered again: shared from now on, within the local share for one more window. */
  function goShared() {
    if (mode === 'shared' || closed) return;
    const t = now();
    // (A replica that has just started and made no call yet has nothing to hold back.)
    if (everShared || ownStarts.some((start) => start + windowMs > t)) localUntil = t + windowMs;
    else local = undefined;
    setMode('shared');
  }

  function localGrant(request: BudgetRequest, t: number, budget: Budget): Grant {
    let granted = 0;
    while (granted < request.wanted && budget.earliestStart(0, t) <= t) {
      budget.take(t);
      granted++;
    }
    recordStarts(granted, t);
    return {
      granted,
      retryInMs: granted < request.wanted ? budget.earliestStart(0, t) - t : 0,
      giveBack(count) {
        budget.giveBack(count);
        forgetStarts(count);
      },
    };
  }

  async function sharedGrant(request: BudgetRequest, wanted: number): Promise<Grant> {
    const routes = [...request.waiting.keys()];
    const members = `${replicaId}:${++sequence}`;
    let answer: number[];
    try {
      answer = await answeredWithin(
        redis.clerkBudgetReserve(
          2 + routes.length,
          windowKey,
          replicasKey,
          ...routes.map(pauseKey),
          limit,
          windowMs,
          wanted,
          members,
          replicaId,
          livenessMs,
          ...routes.map((route) => request.waiting.get(route) ?? 0),
        ),
        timeoutMs,
      );
    } catch (error) {
      goLocal(error);
      return reserveLocally(request);
    }
    const [granted = 0, retryInMs = 0, starts = 0, live = 1, ...pauses] = answer;
    const t = now();
    replicas = live;
    lastSeen = { starts, at: t };
    recordStarts(granted, t);
    const paused = new Map<string, number>();
    routes.forEach((route, i) => {
      if ((pauses[i] ?? 0) > 0) paused.set(route, pauses[i] as number);
    });
    return {
      granted,
      retryInMs,
      paused,
      giveBack(count) {
        if (count <= 0) return;
        forgetStarts(count);
        const unused = Array.from({ length: count }, (_, i) => `${members}:${granted - i}`);
        // Best effort: a slot not given back is only a slot unused for one window.
        redis.zrem(windowKey, ...unused).catch(() => {});
      },
    };
  }

  function reserveLocally(request: BudgetRequest): Grant {
    return localGrant(request, now(), local as Budget);
  }

  async function heartbeat() {
    if (closed) return;
    try {
      // Back from the local share: the starts made meanwhile join the shared window.
      const t = now();
      const handedIn = mode === 'local' ? ownStarts.filter((start) => start >= wentLocalAt) : [];
      const [live = 1, starts = 0] = await answeredWithin(
        redis.clerkBudgetHeartbeat(
          replicasKey,
          windowKey,
          replicaId,
          livenessMs,
          windowMs,
          `${replicaId}:local:${++sequence}`,
          ...handedIn.map((start) => Math.max(0, t - start)),
        ),
        timeoutMs,
      );
      replicas = live;
      lastSeen = { starts, at: now() };
      goShared();
    } catch (error) {
      goLocal(error);
    }
  }

  const timer = setInterval(() => void heartbeat(), heartbeatMs);
  timer.unref();
  // A heartbeat as soon as the client is (re)connected: commands fail until then (no offline queue), and a replica
  // back from its local share need not wait for the next tick.
  const onReady = () => void heartbeat();
  options.redis.on('ready', onReady);
  if (redis.status === 'ready') void heartbeat();

  return {
    get mode() {
      return mode;
    },
    reserve(request, t) {
      if (mode === 'local') return reserveLocally(request);
      if (local && t >= localUntil) local = undefined;
      if (!local) return sharedGrant(request, request.wanted);
      // Back from local mode: the shared window and the local share must both allow a start.
      const guard = local;
      let free = 0;
      while (free < request.wanted && guard.earliestStart(free, t) <= t) free++;
      if (free === 0) return { granted: 0, retryInMs: guard.earliestStart(0, t) - t, giveBack() {} };
      return sharedGrant(request, free).then((grant) => {
        if (mode === 'shared') for (let i = 0; i < grant.granted; i++) guard.take(t);
        return grant;
      });
    },
    earliestStart(ahead, t) {
      if (mode === 'local' && local) return local.earliestStart(ahead, t);
      // An estimate: the replicas' calls interleave in the shared window. A call admitted on it is still dropped,
      // never sent, if its deadline passes while it waits.
      return t + Math.floor(ahead / limit) * windowMs;
    },
    pause(route, ms) {
      if (closed || mode === 'local' || ms <= 0) return;
      answeredWithin(redis.clerkBudgetPause(pauseKey(route), Math.ceil(ms)), timeoutMs).catch(
        (error: unknown) => goLocal(error),
      );
    },
    stats() {
      return { mode, replicas: replicas ?? assumedReplicas, localShare: localShare() };
    },
    heartbeat,
    async close() {
      closed = true;
      clearInterval(timer);
      options.redis.off('ready', onReady);
      await redis.zrem(replicasKey, replicaId).catch(() => {});
    },
  };
}

/** `clerk_budget_mode{mode="shared|local"}` (1 for the mode in force) and `clerk_budget_replicas`, in /metrics. */
export function registerSharedBudgetMetrics(registry: Registry, budget: SharedBudget): void {
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
