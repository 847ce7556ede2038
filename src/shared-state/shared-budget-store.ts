/**
 * Where the replicas keep the shared Clerk budget (the gate that decides with it: src/clerk/upstream/shared-budget.ts):
 * one window as a sorted set in Redis (one member per call start, scored by Redis's own clock), the live replicas as
 * another (scored by their heartbeats), and one key per route that Clerk paused (set with PX from a 429's
 * `Retry-After`). Each reservation and heartbeat is one Lua script (./shared-budget-scripts.ts), so counting the
 * window and adding to it cannot interleave between replicas.
 *
 * Every call answers within `timeoutMs` or rejects, and nothing waits in an offline queue: the gate then keeps to
 * its local share. The client is the budget's own (./connection.ts, role `budget`): reservations are on the path of
 * every Clerk call and must not wait behind the shared copies on the command connection.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HEARTBEAT, PAUSE, RESERVE } from './shared-budget-scripts.js';

export interface SharedBudgetStoreOptions {
  /** A client made by `createRedisClient` with the `budget` role (./connection.ts). @default none: required */
  client: Redis;
  /**
   * How long a reservation, heartbeat or pause waits for Redis (`REDIS_TIMEOUT_MS`): slower, and it rejects (the gate
   * keeps to its local share until a heartbeat is answered in time). @default none: required
   */
  timeoutMs: number;
  /**
   * Which budget: replicas with the same namespace share one. Clerk counts per secret key, so the app passes
   * `budgetNamespace` of it (two deployments on one Redis, test and live keys, do not share). @default none: required
   */
  namespace: string;
  /** Prepended to every key (REDIS_KEY_PREFIX). @default 'team-graphql:' */
  keyPrefix?: string;
}

/** A reservation as the store answers it (the gate's `SharedReservation`). */
export interface BudgetReservation {
  granted: number;
  retryInMs: number;
  starts: number;
  replicas: number;
  paused: ReadonlyMap<string, number>;
  giveBack(count: number): void;
}

/** The store the gate asks (its `SharedBudgetStore`: see src/clerk/upstream/shared-budget.ts for each call). */
export interface BudgetStore {
  reserve(request: {
    limit: number;
    windowMs: number;
    wanted: number;
    waiting: ReadonlyMap<string, number>;
    livenessMs: number;
  }): Promise<BudgetReservation>;
  heartbeat(request: {
    windowMs: number;
    livenessMs: number;
    handedInAges: number[];
  }): Promise<{ replicas: number; starts: number }>;
  pause(route: string, ms: number): Promise<void>;
  leave(): Promise<void>;
  ready(): boolean;
  onReady(listener: () => void): () => void;
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

export function createSharedBudgetStore(options: SharedBudgetStoreOptions): BudgetStore {
  const { timeoutMs } = options;
  const replicaId = randomUUID();
  const keys = sharedBudgetKeys(options.namespace, options.keyPrefix);
  let sequence = 0;

  const redis = options.client as BudgetRedis;
  // defineCommand runs EVALSHA and falls back to EVAL once after NOSCRIPT (a restarted Redis has no scripts).
  if (typeof redis.clerkBudgetReserve !== 'function') {
    redis.defineCommand('clerkBudgetReserve', { lua: RESERVE });
    redis.defineCommand('clerkBudgetHeartbeat', { numberOfKeys: 2, lua: HEARTBEAT });
    redis.defineCommand('clerkBudgetPause', { numberOfKeys: 1, lua: PAUSE });
  }

  return {
    async reserve({ limit, windowMs, wanted, waiting, livenessMs }) {
      const routes = [...waiting.keys()];
      const members = `${replicaId}:${++sequence}`;
      const answer = await answeredWithin(
        redis.clerkBudgetReserve(
          2 + routes.length,
          keys.window,
          keys.replicas,
          ...routes.map(keys.pause),
          limit,
          windowMs,
          wanted,
          members,
          replicaId,
          livenessMs,
          ...routes.map((route) => waiting.get(route) ?? 0),
        ),
        timeoutMs,
      );
      const [granted = 0, retryInMs = 0, starts = 0, replicas = 1, ...pauses] = answer;
      const paused = new Map<string, number>();
      routes.forEach((route, i) => {
        if ((pauses[i] ?? 0) > 0) paused.set(route, pauses[i] as number);
      });
      return {
        granted,
        retryInMs,
        starts,
        replicas,
        paused,
        giveBack(count) {
          // The script named its members `members:1` … `members:granted`: the latest ones go back.
          const unused = Array.from({ length: count }, (_, i) => `${members}:${granted - i}`);
          // Best effort: a start not given back is only a start unused for one window.
          redis.zrem(keys.window, ...unused).catch(() => {});
        },
      };
    },
    async heartbeat({ windowMs, livenessMs, handedInAges }) {
      const [replicas = 1, starts = 0] = await answeredWithin(
        redis.clerkBudgetHeartbeat(
          keys.replicas,
          keys.window,
          replicaId,
          livenessMs,
          windowMs,
          `${replicaId}:local:${++sequence}`,
          ...handedInAges,
        ),
        timeoutMs,
      );
      return { replicas, starts };
    },
    async pause(route, ms) {
      await answeredWithin(redis.clerkBudgetPause(keys.pause(route), ms), timeoutMs);
    },
    async leave() {
      await redis.zrem(keys.replicas, replicaId);
    },
    ready: () => redis.status === 'ready',
    onReady(listener) {
      redis.on('ready', listener);
      return () => redis.off('ready', listener);
    },
  };
}
