/**
 * The request budget toward Clerk: at most `requests` call starts in any span of `windowMs` (a sliding window over
 * start times, the way Clerk counts: its limit holds for any 10 s span, not per aligned window).
 *
 * Pure bookkeeping, no timers: the queue in front of it asks when a call could start and records when one does.
 * Not a library limiter: `rate-limiter-flexible`'s memory and Redis limiters count per fixed window that opens with
 * its first call, which lets through twice the limit across a window boundary; Clerk would answer that with 429s.
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
  };
}
