/**
 * How we call Clerk: within a request budget, with a timeout, with bounded retries, and honouring 429s.
 *
 * Clerk's Backend API is shared by every tenant of the application (1,000 requests per 10 s in production) and the
 * SDK never retries, so this is the one place that decides when a call is made at all. It sees only the domain
 * errors of ./errors.ts: the Clerk source translates SDK errors before they get here.
 */
import pThrottle from 'p-throttle';
import { UpstreamRateLimitedError, UpstreamUnavailableError } from './errors.js';

/**
 * Calls are grouped by route: a 429 on one route pauses that route only. `memberships` reads an organization's
 * roster, `user_memberships` one user's own membership list.
 */
export type UpstreamRoute = 'memberships' | 'invitations' | 'user_memberships';

export type CallOutcome = 'ok' | 'not_found' | 'rate_limited' | 'timeout' | 'error';

export interface UpstreamObserver {
  /** One HTTP call to Clerk finished (or gave up), with how long it took. */
  called(route: UpstreamRoute, outcome: CallOutcome, status: number | undefined, durationMs: number): void;
  /** A call waited this long for the request budget. */
  budgetWait(route: UpstreamRoute, waitedMs: number): void;
  /** A call was refused locally because Clerk asked us to back off. */
  blocked(route: UpstreamRoute): void;
}

export interface UpstreamOptions {
  timeoutMs: number;
  /** Retries after the first attempt, for network errors and 5xx. Default 2. */
  maxRetries?: number;
  /** Backoff before retry n is random in [0, base · 2ⁿ) ("full jitter"). Default 100 ms. */
  backoffBaseMs?: number;
  /** Requests allowed toward Clerk per window, across all routes (Clerk counts per secret key). */
  budget: { requests: number; windowMs: number };
  /** Back-off when a 429 carries no Retry-After. Default 1 s. */
  defaultRetryAfterSeconds?: number;
  observer?: UpstreamObserver;
  now?: () => number;
}

export interface Upstream {
  run<T>(route: UpstreamRoute, request: () => Promise<T>): Promise<T>;
}

/** Marks a timeout: retrying it would double the time a caller waits for a Clerk that is not answering. */
class UpstreamTimeoutError extends UpstreamUnavailableError {}

const noopObserver: UpstreamObserver = { called() {}, budgetWait() {}, blocked() {} };

export function createUpstream(options: UpstreamOptions): Upstream {
  // Late-bound, so a test that fakes Date (vi.setSystemTime) moves this clock too.
  const now = options.now ?? (() => Date.now());
  const observer = options.observer ?? noopObserver;
  const maxRetries = options.maxRetries ?? 2;
  const backoffBaseMs = options.backoffBaseMs ?? 100;
  const blockedUntil = new Map<UpstreamRoute, number>();
  // Strict (sliding window): Clerk's limit holds for any 10 s span, not per aligned window. The window is padded
  // by 5% because Clerk counts arrivals, and queues on the way can bunch calls we spaced out.
  const throttle = pThrottle({
    limit: options.budget.requests,
    interval: Math.ceil(options.budget.windowMs * 1.05),
    strict: true,
  });
  const withinBudget = throttle(<T>(request: () => Promise<T>) => request());

  function refuseIfBlocked(route: UpstreamRoute) {
    const until = blockedUntil.get(route) ?? 0;
    if (until > now()) {
      observer.blocked(route);
      throw new UpstreamRateLimitedError(Math.ceil((until - now()) / 1000));
    }
  }

  async function attempt<T>(route: UpstreamRoute, request: () => Promise<T>): Promise<T> {
    refuseIfBlocked(route);
    const queuedAt = now();
    return withinBudget(async () => {
      const waited = now() - queuedAt;
      if (waited > 0) observer.budgetWait(route, waited);
      // A 429 may have arrived while this call waited for the budget.
      refuseIfBlocked(route);
      const startedAt = now();
      try {
        const result = await withTimeout(request(), options.timeoutMs);
        observer.called(route, 'ok', 200, now() - startedAt);
        return result;
      } catch (error) {
        const duration = now() - startedAt;
        if (error instanceof UpstreamRateLimitedError) {
          const seconds = error.retryAfterSeconds ?? options.defaultRetryAfterSeconds ?? 1;
          blockedUntil.set(route, Math.max(blockedUntil.get(route) ?? 0, now() + seconds * 1000));
          observer.called(route, 'rate_limited', 429, duration);
        } else if (error instanceof UpstreamTimeoutError) {
          observer.called(route, 'timeout', undefined, duration);
        } else if (error instanceof UpstreamUnavailableError) {
          observer.called(route, 'error', error.status, duration);
        } else {
          observer.called(route, 'not_found', 404, duration);
        }
        throw error;
      }
    });
  }

  return {
    async run(route, request) {
      for (let retry = 0; ; retry++) {
        try {
          return await attempt(route, request);
        } catch (error) {
          if (retry >= maxRetries || !isRetryable(error)) throw error;
          await sleep(Math.random() * backoffBaseMs * 2 ** retry);
        }
      }
    },
  };
}

/** Network errors (no status) and 5xx are worth another try; 4xx, 429 and timeouts are not. */
function isRetryable(error: unknown): boolean {
  return (
    error instanceof UpstreamUnavailableError &&
    !(error instanceof UpstreamTimeoutError) &&
    (error.status === undefined || error.status >= 500)
  );
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Bounds the wait for one call. The SDK accepts no AbortSignal, so the HTTP request itself is left to Node's own
 * socket timeouts; what matters for callers is that they stop waiting.
 */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UpstreamTimeoutError(`Clerk did not answer within ${timeoutMs} ms`, undefined)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
