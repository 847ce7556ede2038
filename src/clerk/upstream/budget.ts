/**
 * The request budget toward Clerk: at most `requests` call starts in any span of `windowMs` (a sliding window over
 * start times, the way Clerk counts: its limit holds for any 10 s span, not per aligned window).
 *
 * Pure bookkeeping, no timers: the queue in front of it asks when a call could start and records when one does.
 * Not a library limiter: `rate-limiter-flexible`'s memory and Redis limiters count per fixed window that opens with
 * its first call, which lets through twice the limit across a window boundary; Clerk would answer that with 429s.
 * (Its wrappers do not change that: `BurstyRateLimiter` adds a second fixed window, `RateLimiterQueue` is
 * in-process.) Several replicas share one window in Redis through the `BudgetGate` below
 * (./shared-budget.ts), whose store keeps a sorted-set log of starts in Redis, reserved by a Lua script.
 */

export interface BudgetOptions {
  /** Call starts allowed per window. */
  requests: number;
  /** The window, already padded by the caller for arrival jitter. */
  windowMs: number;
}

export interface Budget {
  /**
   * The earliest time (epoch ms, ≥ now) at which a call may start when `ahead` other calls will start before it
   * (the calls queued in front of it). With `ahead` 0: when the next free slot opens.
   */
  earliestStart(ahead: number, now: number): number;
  /** Records a call start. */
  take(now: number): void;
  /** Forgets the latest `count` starts (taken, then not used). */
  giveBack(count: number): void;
}

/**
 * The window the policy enforces for a configured one: padded by 5% because Clerk counts arrivals, and queues on the
 * way (sockets, proxies, the event loop) can bunch calls we spaced out.
 */
export function paddedWindowMs(windowMs: number): number {
  return Math.ceil(windowMs * 1.05);
}

/** What the queue asks the budget for: up to `wanted` starts now, for calls waiting on these routes. */
export interface BudgetRequest {
  wanted: number;
  /** Calls waiting per route. A shared budget grants nothing for a route Clerk paused (they would not be sent). */
  waiting: ReadonlyMap<string, number>;
}

/** Starts granted now. Each one is used by a call that starts at once, or given back. */
export interface Grant {
  granted: number;
  /** When fewer than wanted were granted: ms until a slot may open (when to ask again). */
  retryInMs: number;
  /** Routes paused by a 429 seen by any replica, with the ms left; their calls get no grant. */
  paused?: ReadonlyMap<string, number>;
  /** Gives back starts that no call used (the call was dropped meanwhile), so they are not lost for a window. */
  giveBack(count: number): void;
}

/**
 * The budget as the upstream queue sees it. Local (one process) it answers at once; shared through Redis it
 * answers after a round trip, and the queue keeps serving priorities and turns while it waits: a grant goes to the
 * calls at the head of the queue when it arrives, not to the ones that were there when it was asked for.
 */
export interface BudgetGate {
  reserve(request: BudgetRequest, now: number): Grant | Promise<Grant>;
  /**
   * The earliest start of a call with `ahead` calls before it, to refuse on arrival a call that could not start
   * before its deadline. Exact locally; an estimate for a shared budget (a call admitted on it is still dropped, never
   * sent, if its deadline passes while it waits).
   */
  earliestStart(ahead: number, now: number): number;
  /** Clerk answered 429 on `route`: no call on it for `ms` (on every replica, for a shared budget). */
  pause?(route: string, ms: number): void;
}

/** The gate of a process alone: `budget` as it is, answered synchronously. */
export function localGate(budget: Budget): BudgetGate {
  return {
    reserve({ wanted }, now) {
      let granted = 0;
      while (granted < wanted && budget.earliestStart(0, now) <= now) {
        budget.take(now);
        granted++;
      }
      return {
        granted,
        retryInMs: granted < wanted ? budget.earliestStart(0, now) - now : 0,
        giveBack: (count) => budget.giveBack(count),
      };
    },
    earliestStart: (ahead, now) => budget.earliestStart(ahead, now),
  };
}

export function createBudget({ requests, windowMs }: BudgetOptions): Budget {
  /** Start times still inside the window, oldest first; never more than `requests`. */
  let starts: number[] = [];

  function prune(now: number) {
    let expired = 0;
    while (expired < starts.length && (starts[expired] as number) + windowMs <= now) expired++;
    if (expired > 0) starts = starts.slice(expired);
    // A start "in the future" means the wall clock went back (NTP, a test faking Date): count it as now, or one
    // jump would stop every call for as long as the clock moved.
    if (starts.length > 0 && (starts[starts.length - 1] as number) > now) {
      starts = starts.map((start) => Math.min(start, now));
    }
  }

  return {
    earliestStart(ahead, now) {
      prune(now);
      const taken = starts.length;
      // Call number `ahead` (0-based) among the future starts may go once the start `requests` places before it has
      // left the window. Index k in the sequence [recorded starts…, future starts…]:
      let k = ahead + taken - requests;
      if (k < 0) return now;
      // A future start depends on the future start `requests` places earlier: one window later each time.
      let windows = 0;
      if (k >= taken) {
        windows = Math.ceil((k - taken + 1) / requests);
        k -= windows * requests;
      }
      const base = k < 0 ? now : Math.max(now, (starts[k] as number) + windowMs);
      return base + windows * windowMs;
    },
    take(now) {
      prune(now);
      starts.push(now);
      if (starts.length > requests) starts = starts.slice(starts.length - requests);
    },
    giveBack(count) {
      if (count > 0) starts = starts.slice(0, Math.max(0, starts.length - count));
    },
  };
}
