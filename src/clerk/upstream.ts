/**
 * How we call Clerk: every call has a deadline, waits its turn in a bounded and fair queue for the request budget,
 * is refused at once when it could not start in time, has a timeout, is retried while its deadline allows, honours
 * 429s, and is not made at all while its route's circuit breaker is open.
 *
 * Clerk's Backend API is shared by every tenant of the application (1,000 requests per 10 s in production) and the
 * SDK never retries, so this is the one place that decides when a call is made at all. It sees only the domain
 * errors of ./errors.ts: the Clerk source translates SDK errors before they get here.
 *
 * The parts, each pure and tested on a fake clock: ./upstream/budget.ts (sliding window), ./upstream/queue.ts
 * (priority and round-robin order), ./upstream/breaker.ts (per-route circuit breaker). This module adds the timers.
 * Several replicas share the budget and Clerk's 429 pauses through Redis (./upstream/shared-budget.ts), an
 * asynchronous `BudgetGate`: the queue asks it for starts and gives each grant to the calls at its head on arrival.
 *
 * Each `run` is one OpenTelemetry client span (./upstream/call-span.ts): route, URL template, status, retries, time
 * queued.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Span } from '@opentelemetry/api';
import {
  CircuitOpenError,
  OrganizationNotFoundError,
  type RefusalReason,
  UpstreamRateLimitedError,
  UpstreamRefusedError,
  UpstreamUnavailableError,
} from '../team/errors.js';
import { isRetryable, sleep, UpstreamTimeoutError, withTimeout } from './upstream/attempts.js';
import { type Breaker, type CircuitState, createBreaker, type Permit } from './upstream/breaker.js';
import { type BudgetGate, createBudget, type Grant, localGate, paddedWindowMs } from './upstream/budget.js';
import { endCallSpan, inCallSpan } from './upstream/call-span.js';
import { FairQueue, type Priority } from './upstream/queue.js';
import { ROUTE_TEMPLATES, UPSTREAM_ROUTES, type UpstreamRoute } from './upstream/routes.js';

export { CircuitOpenError, type RefusalReason, UpstreamRefusedError } from '../team/errors.js';
export type { CircuitState } from './upstream/breaker.js';
export type { Priority } from './upstream/queue.js';

export { UPSTREAM_ROUTES, type UpstreamRoute } from './upstream/routes.js';

export type CallOutcome = 'ok' | 'not_found' | 'rate_limited' | 'timeout' | 'error';

/** What one caller says about one call. Every field is optional, so a bare `run(route, request)` keeps working. */
export interface CallOptions {
  /**
   * Epoch ms by which the caller needs an answer: a call that cannot start before it is refused at once
   * (`UpstreamRefusedError`, reason `deadline`), one still waiting when it passes is dropped, the call's timeout is
   * `min(timeoutMs, deadline − start)`, and retries happen only while it allows.
   * @default now + `defaultDeadlineMs` (the `REQUEST_DEADLINE_MS` setting), taken when `run` is called
   */
  deadline?: number;
  /**
   * Interactive calls (someone is waiting for the answer) are served before any background one (refresh-ahead).
   * @default 'interactive'
   */
  priority?: Priority;
  /**
   * The fairness key, e.g. the user ID the call is made for: callers take turns for the budget, and one caller may
   * have at most `maxPerCaller` calls waiting or under way.
   * @default none: calls without a caller share one turn, and are not capped per caller
   */
  caller?: string;
  /**
   * Aborting it abandons the call: if it is still waiting it is removed, never sent, and `run` rejects with the
   * signal's reason. A call already under way is not interrupted (the SDK takes no signal), only no longer retried.
   */
  signal?: AbortSignal;
  /**
   * false for a write: a failure whose outcome is unknown (no answer, a 5xx) is never retried here, since the
   * write may have happened; only the caller can find out (team actions reconcile). Refusals before sending and
   * 429s (Clerk did nothing) are the same as for reads.
   * @default true
   */
  retryable?: boolean;
}

export interface UpstreamObserver {
  /** One HTTP call to Clerk finished (or gave up), with how long it took. */
  called(route: UpstreamRoute, outcome: CallOutcome, status: number | undefined, durationMs: number): void;
  /** A call waited this long in the queue for the request budget. */
  budgetWait(route: UpstreamRoute, waitedMs: number): void;
  /** A call was refused locally because Clerk asked us to back off (429 Retry-After). */
  blocked(route: UpstreamRoute): void;
  /** A call was not made: refused on arrival, or dropped while waiting. */
  refused?(route: UpstreamRoute, reason: RefusalReason): void;
  /** A route's circuit breaker changed state. */
  circuitChanged?(route: UpstreamRoute, state: CircuitState, previous: CircuitState): void;
}

export interface UpstreamOptions {
  /** Upper bound on one call (`CLERK_TIMEOUT_MS`); a call's deadline may cut it shorter. */
  timeoutMs: number;
  /**
   * Deadline of a call whose caller gives none, from when `run` is called (`REQUEST_DEADLINE_MS`).
   * @default timeoutMs + 1000
   */
  defaultDeadlineMs?: number;
  /** Retries after the first attempt, for network errors and 5xx, while the deadline allows. @default 2 */
  maxRetries?: number;
  /** Backoff before retry n is random in [0, base · 2ⁿ) ("full jitter"). @default 100 */
  backoffBaseMs?: number;
  /** Requests allowed toward Clerk per window, across all routes (Clerk counts per secret key). */
  budget: { requests: number; windowMs: number };
  /**
   * The budget shared with other replicas (`createSharedBudget`, ./upstream/shared-budget.ts), which also
   * spreads Clerk's 429 pauses. @default this process's own sliding window of `budget`
   */
  sharedBudget?: BudgetGate;
  /**
   * Calls under way at most (the Clerk sockets, `CLERK_MAX_SOCKETS`): a call takes its start from the budget only
   * when it can be sent at once. Clerk counts arrivals; a start granted to a call that then waits for a socket
   * arrives late, in the next window, on top of that window's own calls. @default unbounded
   */
  maxInFlight?: number;
  /**
   * Calls waiting for the budget, across routes and callers (`CLERK_QUEUE_MAX`); more are refused at once (0: a
   * call either starts at once or is refused). Calls that could not start before their deadline are refused
   * anyway, so this bounds memory, not latency.
   * @default 1000
   */
  maxQueue?: number;
  /**
   * Calls one caller may have waiting or under way at once (`CLERK_QUEUE_MAX_PER_CALLER`); more are refused at
   * once, so one user's flood cannot take the budget from everybody else. Calls without a caller are not capped.
   * @default 10
   */
  maxPerCaller?: number;
  /** The circuit breaker of each route. */
  breaker?: {
    /**
     * Consecutive failures (5xx, network errors, unreadable answers, timeouts of at least half `timeoutMs`) that
     * open a route's circuit (`CLERK_BREAKER_FAILURES`); 0 turns the breaker off. @default 5
     */
    failureThreshold?: number;
    /** How long an open circuit refuses calls before one probe (`CLERK_BREAKER_COOLDOWN_MS`). @default 10000 */
    cooldownMs?: number;
  };
  /** Back-off when a 429 carries no Retry-After. @default 1 s */
  defaultRetryAfterSeconds?: number;
  observer?: UpstreamObserver;
  now?: () => number;
  /** For the backoff jitter. @default Math.random */
  random?: () => number;
}

export interface UpstreamStats {
  /** Calls waiting for the budget. */
  queued: number;
  /** Calls sent and not yet answered (or given up on). */
  inFlight: number;
  circuits: Record<UpstreamRoute, CircuitState>;
}

export interface Upstream {
  run<T>(route: UpstreamRoute, request: () => Promise<T>, options?: CallOptions): Promise<T>;
  stats(): UpstreamStats;
  /** Refuses every waiting call and every later one (`UpstreamUnavailableError`), and stops the timers. */
  close(): void;
}

const callSignal = new AsyncLocalStorage<AbortSignal>();

/**
 * The signal of the Clerk call under way in this async context, aborted when the policy stops waiting for it (its
 * timeout, or its deadline). The SDK takes no AbortSignal, so the Clerk HTTP agent (src/clerk/http-agent.ts) reads this
 * one where the SDK's `fetch` reaches it, and closes the request: a call nobody waits for holds no socket.
 */
export function currentCallSignal(): AbortSignal | undefined {
  return callSignal.getStore();
}

/**
 * A call is started only with at least this long left before its deadline: a shorter one could not get Clerk's
 * answer (~200 ms away) and would only spend the budget.
 */
const MIN_CALL_MS = 25;

/**
 * Starts asked of the budget at once. A grant is for the calls at the head of the queue; a larger one would take
 * slots from other replicas' calls only to give most of them back when calls are dropped meanwhile.
 */
const MAX_GRANT = 50;

interface Call {
  deadline: number;
  priority: Priority;
  caller: string | undefined;
  signal: AbortSignal | undefined;
  /** Time spent waiting for the budget, over every attempt (for the call's span). */
  queuedMs: number;
}

interface Waiting {
  readonly route: UpstreamRoute;
  readonly priority: Priority;
  readonly caller: string | undefined;
  readonly deadline: number;
  readonly queuedAt: number;
  start(permit: Permit, now: number): void;
  refuse(error: unknown): void;
  timer?: NodeJS.Timeout;
  stopListening?: () => void;
}

const noopObserver: UpstreamObserver = { called() {}, budgetWait() {}, blocked() {} };

export function createUpstream(options: UpstreamOptions): Upstream {
  // Late-bound, so a test that fakes Date (vi.setSystemTime) moves this clock too.
  const now = options.now ?? (() => Date.now());
  const random = options.random ?? Math.random;
  const observer = options.observer ?? noopObserver;
  const maxRetries = options.maxRetries ?? 2;
  const backoffBaseMs = options.backoffBaseMs ?? 100;
  const defaultDeadlineMs = options.defaultDeadlineMs ?? options.timeoutMs + 1000;
  const maxQueue = options.maxQueue ?? 1000;
  const maxPerCaller = options.maxPerCaller ?? 10;
  const maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
  const gate =
    options.sharedBudget ??
    localGate(
      createBudget({ requests: options.budget.requests, windowMs: paddedWindowMs(options.budget.windowMs) }),
    );
  const queue = new FairQueue<Waiting>();
  const blockedUntil = new Map<UpstreamRoute, number>();
  /** Calls waiting or under way, per caller. */
  const pending = new Map<string, number>();
  const breakers = new Map<UpstreamRoute, Breaker>();
  let inFlight = 0;
  let pumpTimer: NodeJS.Timeout | undefined;
  /** When the budget said the next slot opens (the pump timer's time): a shared budget is not asked before. */
  let nextSlotAt = 0;
  /** A reservation on its way (shared budget): one at a time, its grant goes to the head of the queue on arrival. */
  let reserving = false;
  let pumping = false;
  let closed = false;

  const secondsUntil = (at: number, t: number) => Math.max(1, Math.ceil((at - t) / 1000));

  function breakerOf(route: UpstreamRoute): Breaker {
    let breaker = breakers.get(route);
    if (!breaker) {
      breaker = createBreaker({
        failureThreshold: options.breaker?.failureThreshold ?? 5,
        cooldownMs: options.breaker?.cooldownMs ?? 10_000,
        onStateChange(state, previous) {
          observer.circuitChanged?.(route, state, previous);
          // No call is made while open: those already waiting are answered now rather than at their turn.
          if (state === 'open') {
            const t = now();
            for (const item of queue.drain((waiting) => waiting.route === route)) {
              release(item);
              refuse(
                item,
                'circuit_open',
                new CircuitOpenError(route, secondsUntil(breakerOf(route).reopensAt(t), t)),
              );
            }
          }
        },
      });
      breakers.set(route, breaker);
    }
    return breaker;
  }

  function refuse(item: Waiting, reason: RefusalReason, error: unknown) {
    observer.refused?.(item.route, reason);
    item.refuse(error);
  }

  function blockedError(route: UpstreamRoute, t: number): UpstreamRateLimitedError | undefined {
    const until = blockedUntil.get(route) ?? 0;
    if (until <= t) return undefined;
    observer.blocked(route);
    return new UpstreamRateLimitedError(Math.ceil((until - t) / 1000));
  }

  /** Why a call arriving now may not even wait: undefined when it may. */
  function admissionRefusal(item: Waiting, t: number): [RefusalReason | undefined, unknown] | undefined {
    if (closed) return ['shutdown', new UpstreamUnavailableError('Clerk client is shutting down', undefined)];
    const breaker = breakerOf(item.route);
    if (!breaker.wouldAllow(t)) {
      return ['circuit_open', new CircuitOpenError(item.route, secondsUntil(breaker.reopensAt(t), t))];
    }
    const blocked = blockedError(item.route, t);
    if (blocked) return [undefined, blocked];
    if (item.caller !== undefined && (pending.get(item.caller) ?? 0) >= maxPerCaller) {
      return ['caller_limit', new UpstreamRefusedError('caller_limit', 1)];
    }
    const earliest = gate.earliestStart(queue.positionIfPushed(item), t);
    if (earliest > t && queue.size >= maxQueue) {
      return ['queue_full', new UpstreamRefusedError('queue_full', secondsUntil(earliest, t))];
    }
    if (earliest > item.deadline - MIN_CALL_MS) {
      return ['deadline', new UpstreamRefusedError('deadline', secondsUntil(earliest, t))];
    }
    return undefined;
  }

  /** Why a call whose turn has come may not be made after all: undefined when it may (and then it holds a permit). */
  function dispatchRefusal(item: Waiting, t: number): [RefusalReason | undefined, unknown] | Permit {
    if (t > item.deadline - MIN_CALL_MS) {
      return ['deadline', new UpstreamRefusedError('deadline', 1)];
    }
    // A 429 may have arrived while this call waited.
    const blocked = blockedError(item.route, t);
    if (blocked) return [undefined, blocked];
    const breaker = breakerOf(item.route);
    const permit = breaker.tryAcquire(t);
    if (!permit)
      return ['circuit_open', new CircuitOpenError(item.route, secondsUntil(breaker.reopensAt(t), t))];
    return permit;
  }

  function hold(item: Waiting) {
    if (item.caller !== undefined) pending.set(item.caller, (pending.get(item.caller) ?? 0) + 1);
  }

  function release(item: Waiting) {
    if (item.timer) clearTimeout(item.timer);
    item.stopListening?.();
    if (item.caller === undefined) return;
    const count = (pending.get(item.caller) ?? 1) - 1;
    if (count > 0) pending.set(item.caller, count);
    else pending.delete(item.caller);
  }

  /** Starts every waiting call the budget allows now, and sets a timer for the next free slot. */
  function pump() {
    if (pumping || reserving || closed) return;
    // A shared budget costs a round trip to ask: not again before the slot it named (the timer is set for it).
    if (pumpTimer && options.sharedBudget && now() < nextSlotAt) return;
    pumping = true;
    try {
      if (pumpTimer) clearTimeout(pumpTimer);
      pumpTimer = undefined;
      while (queue.size > 0 && inFlight < maxInFlight) {
        const wanted = Math.min(queue.size, MAX_GRANT, maxInFlight - inFlight);
        const grant = gate.reserve({ wanted, waiting: queue.countBy((item) => item.route) }, now());
        if (grant instanceof Promise) {
          reserving = true;
          grant.then(
            (answer) => {
              reserving = false;
              if (closed) return answer.giveBack(answer.granted);
              if (use(answer, wanted)) pump();
            },
            () => {
              // A shared budget answers from its local share when Redis fails; this is only a backstop.
              reserving = false;
              use({ granted: 0, retryInMs: 100, giveBack() {} }, wanted);
            },
          );
          return;
        }
        if (!use(grant, wanted)) return;
      }
    } finally {
      pumping = false;
    }
  }

  /**
   * Gives the granted starts to the calls at the head of the queue now (a call dropped while the grant was on its
   * way takes none), gives back what is left, and answers at once the calls of routes Clerk paused. Returns whether
   * to ask again now; else the timer for the next slot is set.
   */
  function use(grant: Grant, wanted: number): boolean {
    const t = now();
    for (const [route, ms] of grant.paused ?? []) if (ms > 0) pauseRoute(route as UpstreamRoute, t + ms);
    let left = grant.granted;
    while (left > 0 && queue.size > 0) {
      const item = queue.shift() as Waiting;
      if (item.timer) clearTimeout(item.timer);
      item.stopListening?.();
      const permit = dispatchRefusal(item, t);
      if (Array.isArray(permit)) {
        release(item);
        const [reason, error] = permit;
        if (reason) refuse(item, reason, error);
        else item.refuse(error);
        continue;
      }
      left--;
      const waited = t - item.queuedAt;
      if (waited > 0) observer.budgetWait(item.route, waited);
      item.start(permit, t);
    }
    if (left > 0) grant.giveBack(left);
    if (queue.size === 0 || grant.granted >= wanted) return true;
    nextSlotAt = t + Math.max(1, grant.retryInMs);
    pumpTimer = setTimeout(() => {
      pumpTimer = undefined;
      pump();
    }, nextSlotAt - t);
    return false;
  }

  /** No call on `route` before `until`: the calls waiting for it are answered now rather than at their turn. */
  function pauseRoute(route: UpstreamRoute, until: number) {
    blockedUntil.set(route, Math.max(blockedUntil.get(route) ?? 0, until));
    const t = now();
    for (const item of queue.drain((waiting) => waiting.route === route)) {
      release(item);
      item.refuse(blockedError(route, t));
    }
  }

  function attempt<T>(route: UpstreamRoute, request: () => Promise<T>, call: Call): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = now();
      const item: Waiting = {
        route,
        priority: call.priority,
        caller: call.caller,
        deadline: call.deadline,
        queuedAt: t,
        refuse: reject,
        start(permit, startedAt) {
          inFlight++;
          call.queuedMs += startedAt - item.queuedAt;
          const timeoutMs = Math.min(options.timeoutMs, item.deadline - startedAt);
          const abandon = new AbortController();
          let answer: Promise<T>;
          try {
            answer = callSignal.run(abandon.signal, request);
          } catch (error) {
            answer = Promise.reject(error);
          }
          withTimeout(answer, timeoutMs).then(
            (value) => {
              inFlight--;
              release(item);
              if (queue.size > 0 && inFlight === maxInFlight - 1) pump();
              breakerOf(route).success(permit);
              observer.called(route, 'ok', 200, now() - startedAt);
              resolve(value);
            },
            (error: unknown) => {
              inFlight--;
              release(item);
              if (queue.size > 0 && inFlight === maxInFlight - 1) pump();
              if (error instanceof UpstreamTimeoutError) abandon.abort(error);
              settleFailure(route, permit, error, now() - startedAt, timeoutMs);
              reject(error);
            },
          );
        },
      };

      if (call.signal?.aborted) {
        observer.refused?.(route, 'abandoned');
        return reject(call.signal.reason);
      }
      const refusal = admissionRefusal(item, t);
      if (refusal) {
        const [reason, error] = refusal;
        if (reason) observer.refused?.(route, reason);
        return reject(error);
      }

      hold(item);
      queue.push(item);
      item.timer = setTimeout(
        () => {
          if (!queue.remove(item)) return;
          release(item);
          const at = now();
          refuse(
            item,
            'deadline',
            new UpstreamRefusedError('deadline', secondsUntil(gate.earliestStart(0, at), at)),
          );
        },
        Math.max(0, item.deadline - MIN_CALL_MS - t),
      );
      const signal = call.signal;
      if (signal) {
        const abandon = () => {
          if (!queue.remove(item)) return;
          release(item);
          refuse(item, 'abandoned', signal.reason);
        };
        signal.addEventListener('abort', abandon, { once: true });
        item.stopListening = () => signal.removeEventListener('abort', abandon);
      }
      pump();
    });
  }

  function settleFailure(
    route: UpstreamRoute,
    permit: Permit,
    error: unknown,
    durationMs: number,
    timeoutMs: number,
  ) {
    const breaker = breakerOf(route);
    if (error instanceof UpstreamRateLimitedError) {
      const seconds = error.retryAfterSeconds ?? options.defaultRetryAfterSeconds ?? 1;
      blockedUntil.set(route, Math.max(blockedUntil.get(route) ?? 0, now() + seconds * 1000));
      // Every replica: Clerk's limit is per application, so the others would get the same answer.
      gate.pause?.(route, seconds * 1000);
      observer.called(route, 'rate_limited', 429, durationMs);
      breaker.neutral(permit);
    } else if (error instanceof UpstreamTimeoutError) {
      observer.called(route, 'timeout', undefined, durationMs);
      // A call its caller's deadline cut short says little about Clerk.
      if (timeoutMs >= options.timeoutMs / 2) breaker.failure(permit, now());
      else breaker.neutral(permit);
    } else if (error instanceof UpstreamUnavailableError) {
      observer.called(route, 'error', error.status, durationMs);
      // A 4xx is Clerk answering (about our request), not Clerk failing.
      if (error.status === undefined || error.status >= 500) breaker.failure(permit, now());
      else breaker.success(permit);
    } else if (error instanceof OrganizationNotFoundError) {
      observer.called(route, 'not_found', 404, durationMs);
      // Clerk answered, and well: the organization is gone.
      breaker.success(permit);
    } else {
      // Not a domain error (the request's own code failed): a failed call, though not one that says Clerk is down.
      observer.called(route, 'error', undefined, durationMs);
      breaker.success(permit);
    }
  }

  /** `run`, inside its span: the retries, each attempt's queueing, and how it ended. */
  async function runTraced<T>(
    route: UpstreamRoute,
    request: () => Promise<T>,
    callOptions: CallOptions,
    priority: Priority,
    span: Span,
  ): Promise<T> {
    const call: Call = {
      deadline: callOptions.deadline ?? now() + defaultDeadlineMs,
      priority,
      caller: callOptions.caller,
      signal: callOptions.signal,
      queuedMs: 0,
    };
    const retries = callOptions.retryable === false ? 0 : maxRetries;
    let retry = 0;
    const end = (error?: unknown) => endCallSpan(span, { retries: retry, queuedMs: call.queuedMs }, error);
    for (; ; retry++) {
      try {
        const value = await attempt(route, request, call);
        end();
        return value;
      } catch (error) {
        if (retry >= retries || !isRetryable(error) || call.signal?.aborted || closed) {
          end(error);
          throw error;
        }
        const backoff = random() * backoffBaseMs * 2 ** retry;
        // A retry that could not start in time is not worth the wait: the caller gets this failure now.
        if (now() + backoff > call.deadline - MIN_CALL_MS) {
          end(error);
          throw error;
        }
        await sleep(backoff);
      }
    }
  }

  return {
    run(route, request, callOptions = {}) {
      const priority = callOptions.priority ?? 'interactive';
      return inCallSpan(route, ROUTE_TEMPLATES[route], priority, (span) =>
        runTraced(route, request, callOptions, priority, span),
      );
    },
    stats() {
      const circuits = Object.fromEntries(
        UPSTREAM_ROUTES.map((route) => [route, breakers.get(route)?.state ?? 'closed']),
      ) as Record<UpstreamRoute, CircuitState>;
      return { queued: queue.size, inFlight, circuits };
    },
    close() {
      closed = true;
      if (pumpTimer) clearTimeout(pumpTimer);
      pumpTimer = undefined;
      for (const item of queue.drain(() => true)) {
        release(item);
        refuse(item, 'shutdown', new UpstreamUnavailableError('Clerk client is shutting down', undefined));
      }
    },
  };
}
