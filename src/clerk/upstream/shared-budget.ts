/**
 * The Clerk request budget shared by every replica, and Clerk's 429 pauses with it: the gate the upstream queue asks
 * for starts when several replicas share one Clerk application.
 *
 * Clerk limits requests per application (secret key), not per process: N replicas each keeping `CLERK_RATE_LIMIT`
 * alone would make N times as many calls and all get 429s. So starts are reserved in one window kept by a store all
 * replicas reach (Redis: src/shared-state/shared-budget-store.ts), which also holds each route's pause, set by a 429's
 * `Retry-After` on every replica's behalf: a route Clerk paused gets no start anywhere.
 *
 * The store failing is not an outage. The first reservation or heartbeat that fails or times out switches this
 * replica to a *local share*: its own sliding window of `limit ÷ live replicas` (the count last seen through the
 * replicas' heartbeats; before any, `assumedReplicas`). So the replicas together still stay within the limit while
 * they cannot coordinate. The switch seeds the local window with this replica's part of the starts last seen in the
 * shared one (and its own starts since), so the window that straddles the switch is not counted twice over. A
 * heartbeat every `heartbeatMs` keeps the replica count fresh and, in local mode, probes the store: when it answers,
 * the shared window is used again, still bounded by the local share for one more window (the store may have
 * restarted empty, and the others may still be on their shares).
 */
import type { Logger } from '../../observability/logger.js';
import {
  type Budget,
  type BudgetGate,
  type BudgetRequest,
  createBudget,
  type Grant,
  paddedWindowMs,
} from './budget.js';

/** Starts reserved in the shared window, and what the store saw while reserving them. */
export interface SharedReservation {
  granted: number;
  /** When fewer than wanted were granted: ms until a start may be free. */
  retryInMs: number;
  /** Starts in the shared window now, every replica's, these included. */
  starts: number;
  /** Live replicas. */
  replicas: number;
  /** Routes with calls waiting that Clerk paused, with the ms left. */
  paused: ReadonlyMap<string, number>;
  /** Removes `count` of the granted starts from the window again (best effort). */
  giveBack(count: number): void;
}

/**
 * Where the replicas keep their one window, their heartbeats and the routes' pauses (src/shared-state/). Every call
 * answers within the store's own timeout or rejects; a rejection switches this replica to its local share.
 */
export interface SharedBudgetStore {
  /** Reserves up to `wanted` starts now for calls waiting on `waiting`'s routes, none for a paused route. */
  reserve(request: {
    limit: number;
    windowMs: number;
    wanted: number;
    waiting: ReadonlyMap<string, number>;
    livenessMs: number;
  }): Promise<SharedReservation>;
  /**
   * Says this replica is alive (and hands in `handedInAges`: the ages, in ms, of starts it made alone, so the shared
   * window counts them). Answers the live replicas and the starts in the window.
   */
  heartbeat(request: {
    windowMs: number;
    livenessMs: number;
    handedInAges: number[];
  }): Promise<{ replicas: number; starts: number }>;
  /** No start on `route` for `ms`, on any replica (never shortening a longer pause). */
  pause(route: string, ms: number): Promise<void>;
  /** This replica is no longer counted as live. */
  leave(): Promise<void>;
  /** Whether the store's connection is up (worth a heartbeat). */
  ready(): boolean;
  /** Calls `listener` whenever the store's connection is (re)established; returns the unsubscribe. */
  onReady(listener: () => void): () => void;
}

export type BudgetMode = 'shared' | 'local';

export interface SharedBudgetOptions {
  /** Where the replicas keep the window (src/shared-state/shared-budget-store.ts). @default none: required */
  store: SharedBudgetStore;
  /** Requests toward Clerk per window across all replicas (`CLERK_RATE_LIMIT`). @default none: required */
  requests: number;
  /**
   * The window as configured (`CLERK_RATE_LIMIT_WINDOW_SECONDS` · 1000); padded 5% like the local budget.
   * @default none: required
   */
  windowMs: number;
  /**
   * Replicas assumed to share the limit while this one has never seen the live count through the store
   * (`CLERK_BUDGET_ASSUMED_REPLICAS`). @default 3
   */
  assumedReplicas?: number;
  /** How often a replica says it is alive (and, in local mode, looks whether the store is back). @default 1000 */
  heartbeatMs?: number;
  /** Where the switches to and from the local share are reported. @default none */
  logger?: Logger;
  /** Told on every switch between the shared window and the local share. @default none */
  onModeChange?(mode: BudgetMode): void;
  /** The clock. @default Date.now */
  now?: () => number;
}

export interface SharedBudgetStats {
  mode: BudgetMode;
  /** Live replicas as last seen through the store (heartbeats); `assumedReplicas` before the first. */
  replicas: number;
  /** The starts per window this replica allows itself while the store is unreachable. */
  localShare: number;
}

export interface SharedBudget extends BudgetGate {
  readonly mode: BudgetMode;
  stats(): SharedBudgetStats;
  /** One heartbeat now (else every `heartbeatMs`); resolves when it has been answered or has failed. */
  heartbeat(): Promise<void>;
  /** Stops the heartbeat and leaves the live replicas. Does not close the store's connection (its owner does). */
  close(): Promise<void>;
}

/**
 * A replica that has not said it is alive for this long is counted as gone: several heartbeats, and never less than
 * a few seconds, so a replica whose event loop is busy for a moment still counts (its share would be given away).
 */
const livenessOf = (heartbeatMs: number) => Math.max(5 * heartbeatMs, 5000);

export function createSharedBudget(options: SharedBudgetOptions): SharedBudget {
  const { store } = options;
  const now = options.now ?? (() => Date.now());
  const limit = options.requests;
  const windowMs = paddedWindowMs(options.windowMs);
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const livenessMs = livenessOf(heartbeatMs);
  const assumedReplicas = options.assumedReplicas ?? 3;

  // Local until the first heartbeat is answered: the store is still connecting, and nothing waits for it.
  let mode: BudgetMode = 'local';
  /** Whether the store has answered once: a replica that starts while it is down warns once, too. */
  let everShared = false;
  let replicas: number | undefined;
  /** The shared window as last seen: starts in it, and when (local clock). */
  let lastSeen: { starts: number; at: number } | undefined;
  /** This replica's own starts in the last window (local clock), to seed the local share. */
  let ownStarts: number[] = [];
  /** The local share's window: in local mode, and for one window after the store came back. */
  let local: Budget | undefined;
  /** Until when `local` bounds this replica: for ever in local mode, one window after the store came back. */
  let localUntil = Number.POSITIVE_INFINITY;
  let warnedAtStart = false;
  /** When this replica last fell back to its local share (its starts since are handed in when the store is back). */
  let wentLocalAt = 0;
  let closed = false;

  const liveReplicas = () => replicas ?? assumedReplicas;
  const localShare = () => Math.max(1, Math.floor(limit / liveReplicas()));
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
        { localShare: localShare(), replicas: liveReplicas(), error: reason },
      );
    } else {
      options.logger?.info('Redis reachable again: the Clerk budget is shared by all replicas again', {});
    }
    options.onModeChange?.(next);
  }

  /** The store failed: from now on this replica keeps to its local share, starting with what the window holds. */
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
      const part = Math.min(share, Math.ceil(lastSeen.starts / liveReplicas()));
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

  /** The store answered again: shared from now on, within the local share for one more window. */
  function goShared() {
    if (mode === 'shared' || closed) return;
    const t = now();
    // (A replica that has just started and made no call yet has nothing to hold back.)
    if (everShared || ownStarts.some((start) => start + windowMs > t)) localUntil = t + windowMs;
    else local = undefined;
    setMode('shared');
  }

  function localGrant(request: BudgetRequest): Grant {
    const t = now();
    const budget = local as Budget;
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
    let reservation: SharedReservation;
    try {
      reservation = await store.reserve({ limit, windowMs, wanted, waiting: request.waiting, livenessMs });
    } catch (error) {
      goLocal(error);
      return localGrant(request);
    }
    const t = now();
    replicas = reservation.replicas;
    lastSeen = { starts: reservation.starts, at: t };
    recordStarts(reservation.granted, t);
    return {
      granted: reservation.granted,
      retryInMs: reservation.retryInMs,
      paused: reservation.paused,
      giveBack(count) {
        if (count <= 0) return;
        forgetStarts(count);
        reservation.giveBack(count);
      },
    };
  }

  async function heartbeat() {
    if (closed) return;
    try {
      // Back from the local share: the starts made meanwhile join the shared window.
      const t = now();
      const handedIn = mode === 'local' ? ownStarts.filter((start) => start >= wentLocalAt) : [];
      const answer = await store.heartbeat({
        windowMs,
        livenessMs,
        handedInAges: handedIn.map((start) => Math.max(0, t - start)),
      });
      replicas = answer.replicas;
      lastSeen = { starts: answer.starts, at: now() };
      goShared();
    } catch (error) {
      goLocal(error);
    }
  }

  const timer = setInterval(() => void heartbeat(), heartbeatMs);
  timer.unref();
  // A heartbeat as soon as the store is (re)connected: its commands fail until then, and a replica back from its
  // local share need not wait for the next tick.
  const stopListening = store.onReady(() => void heartbeat());
  if (store.ready()) void heartbeat();

  return {
    get mode() {
      return mode;
    },
    reserve(request, t) {
      if (mode === 'local') return localGrant(request);
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
      store.pause(route, Math.ceil(ms)).catch((error: unknown) => goLocal(error));
    },
    stats() {
      return { mode, replicas: liveReplicas(), localShare: localShare() };
    },
    heartbeat,
    async close() {
      closed = true;
      clearInterval(timer);
      stopListening();
      await store.leave().catch(() => {});
    },
  };
}
