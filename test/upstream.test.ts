/**
 * The upstream policy on a fake clock: the sliding-window budget, the fair queue, the circuit breaker, and how
 * createUpstream puts them together (deadlines, fairness, priorities, abandoned calls, retries, breaker).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBreaker } from '../src/clerk/upstream/breaker.js';
import { createBudget } from '../src/clerk/upstream/budget.js';
import { FairQueue, type Priority } from '../src/clerk/upstream/queue.js';
import {
  CircuitOpenError,
  createUpstream,
  type UpstreamObserver,
  UpstreamRefusedError,
  type UpstreamRoute,
} from '../src/clerk/upstream.js';
import {
  OrganizationNotFoundError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
} from '../src/team/errors.js';

describe('budget (sliding window)', () => {
  it('allows `requests` starts in any window, the next when the oldest has left it', () => {
    const budget = createBudget({ requests: 2, windowMs: 1000 });
    expect(budget.earliestStart(0, 0)).toBe(0);
    budget.take(0);
    budget.take(600);
    // Not a fixed window opening at 0: the start at 600 still counts until 1600.
    expect(budget.earliestStart(0, 700)).toBe(1000);
    budget.take(1000);
    expect(budget.earliestStart(0, 1000)).toBe(1600);
  });

  it('knows when the call n places back in line may start', () => {
    const budget = createBudget({ requests: 2, windowMs: 1000 });
    budget.take(0);
    budget.take(10);
    expect([0, 1, 2, 3, 4].map((ahead) => budget.earliestStart(ahead, 100))).toEqual([
      1000, 1010, 2000, 2010, 3000,
    ]);
    const single = createBudget({ requests: 1, windowMs: 3150 });
    single.take(0);
    expect(single.earliestStart(0, 5)).toBe(3150);
    expect(single.earliestStart(2, 5)).toBe(3 * 3150);
  });

  it('a wall clock that jumps back does not stop calls for as long as it moved', () => {
    const budget = createBudget({ requests: 1, windowMs: 1000 });
    budget.take(100_000);
    expect(budget.earliestStart(0, 5000)).toBe(6000);
  });
});

describe('fair queue', () => {
  const item = (caller: string | undefined, priority: Priority = 'interactive', label = '') => ({
    caller,
    priority,
    label,
  });
  type Item = ReturnType<typeof item>;
  const drainLabels = (queue: FairQueue<Item>) => {
    const order: string[] = [];
    for (let next = queue.shift(); next; next = queue.shift()) order.push(next.label);
    return order;
  };

  it('serves callers round-robin, interactive before background', () => {
    const queue = new FairQueue<Item>();
    for (const label of ['a1', 'a2', 'a3']) queue.push(item('a', 'interactive', label));
    queue.push(item(undefined, 'background', 'refresh'));
    queue.push(item('b', 'interactive', 'b1'));
    queue.push(item('c', 'interactive', 'c1'));
    queue.push(item('b', 'interactive', 'b2'));
    expect(drainLabels(queue)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'refresh']);
  });

  it('predicts each newcomer’s place exactly', () => {
    // Random pushes and shifts; each prediction must equal the place the item is served at if nothing else comes.
    let seed = 7;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let round = 0; round < 30; round++) {
      const ops: (Item | 'shift')[] = [];
      for (let i = 0; i < 25; i++) {
        ops.push(
          random() < 0.2
            ? 'shift'
            : item(`u${Math.floor(random() * 4)}`, random() < 0.3 ? 'background' : 'interactive', String(i)),
        );
      }
      ops.forEach((op, index) => {
        if (op === 'shift') return;
        const queue = new FairQueue<Item>();
        for (const earlier of ops.slice(0, index)) {
          if (earlier === 'shift') queue.shift();
          else queue.push(earlier);
        }
        const predicted = queue.positionIfPushed(op);
        queue.push(op);
        expect(drainLabels(queue).indexOf(op.label)).toBe(predicted);
      });
    }
  });

  it('removes an abandoned call and drains by predicate', () => {
    const queue = new FairQueue<Item>();
    const a1 = item('a', 'interactive', 'a1');
    queue.push(a1);
    queue.push(item('b', 'interactive', 'b1'));
    queue.push(item('a', 'interactive', 'a2'));
    expect(queue.remove(a1)).toBe(true);
    expect(queue.remove(a1)).toBe(false);
    expect(queue.drain((each) => each.caller === 'b').map((each) => each.label)).toEqual(['b1']);
    expect(queue.size).toBe(1);
    expect(drainLabels(queue)).toEqual(['a2']);
  });
});

describe('circuit breaker', () => {
  function breaker() {
    const changes: string[] = [];
    const b = createBreaker({
      failureThreshold: 3,
      cooldownMs: 1000,
      onStateChange: (state) => changes.push(state),
    });
    return { b, changes };
  }

  it('opens after consecutive failures; a success in between resets the count', () => {
    const { b, changes } = breaker();
    const fail = () => b.failure(b.tryAcquire(0) ?? { probe: false }, 0);
    fail();
    fail();
    b.success(b.tryAcquire(0) ?? { probe: false });
    fail();
    fail();
    expect(b.state).toBe('closed');
    fail();
    expect(b.state).toBe('open');
    expect(changes).toEqual(['open']);
    expect(b.tryAcquire(999)).toBeUndefined();
    expect(b.reopensAt(500)).toBe(1000);
  });

  it('after the cooldown lets one probe through: its success closes, its failure reopens', () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 3; i++) b.failure({ probe: false }, 0);
    const probe = b.tryAcquire(1000);
    expect(probe?.probe).toBe(true);
    expect(b.state).toBe('half_open');
    expect(b.tryAcquire(1000)).toBeUndefined(); // one probe at a time
    b.failure(probe as { probe: boolean }, 1200);
    expect(b.state).toBe('open');
    expect(b.tryAcquire(2100)).toBeUndefined(); // a new cooldown from the failed probe
    const second = b.tryAcquire(2200);
    b.success(second as { probe: boolean });
    expect(b.state).toBe('closed');
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('a neutral outcome (429, a deadline cut) neither counts nor holds the probe slot', () => {
    const { b } = breaker();
    for (let i = 0; i < 10; i++) b.neutral(b.tryAcquire(0) ?? { probe: false });
    expect(b.state).toBe('closed');
    for (let i = 0; i < 3; i++) b.failure({ probe: false }, 0);
    b.neutral(b.tryAcquire(1000) as { probe: boolean });
    expect(b.tryAcquire(1000)?.probe).toBe(true);
  });

  it('threshold 0 is off', () => {
    const b = createBreaker({ failureThreshold: 0, cooldownMs: 1000 });
    for (let i = 0; i < 100; i++) b.failure({ probe: false }, 0);
    expect(b.state).toBe('closed');
  });
});

describe('createUpstream on a fake clock', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A Clerk that answers after `latencyMs`, counting calls. */
  function fakeClerk(latencyMs = 200) {
    let calls = 0;
    return {
      get calls() {
        return calls;
      },
      answer<T>(value: T): () => Promise<T> {
        return () => {
          calls++;
          return new Promise((resolve) => setTimeout(() => resolve(value), latencyMs));
        };
      },
      fail(error: () => Error): () => Promise<never> {
        return () => {
          calls++;
          return new Promise((_, reject) => setTimeout(() => reject(error()), latencyMs));
        };
      },
      hang(): () => Promise<never> {
        return () => {
          calls++;
          return new Promise(() => {});
        };
      },
    };
  }

  function recorder() {
    const events: string[] = [];
    const observer: UpstreamObserver = {
      called: (route, outcome) => events.push(`called ${route} ${outcome}`),
      budgetWait: (route) => events.push(`waited ${route}`),
      blocked: (route) => events.push(`blocked ${route}`),
      refused: (route, reason) => events.push(`refused ${route} ${reason}`),
      circuitChanged: (route, state) => events.push(`circuit ${route} ${state}`),
    };
    return { events, observer };
  }

  /** Settles a promise's outcome into a value, so a test can look at it after advancing the clock. */
  function outcome<T>(promise: Promise<T>) {
    const result: { value?: T; error?: unknown; at?: number } = {};
    promise.then(
      (value) => {
        result.value = value;
        result.at = Date.now();
      },
      (error: unknown) => {
        result.error = error;
        result.at = Date.now();
      },
    );
    return result;
  }

  it('a call that cannot start before its deadline is refused at once, never queued (budget 1 / 3 s)', async () => {
    const clerk = fakeClerk(50);
    const { events, observer } = recorder();
    const upstream = createUpstream({
      timeoutMs: 400,
      defaultDeadlineMs: 500,
      budget: { requests: 1, windowMs: 3000 },
      observer,
    });
    const first = outcome(upstream.run('memberships', clerk.answer('first')));
    await vi.advanceTimersByTimeAsync(50);
    expect(first.value).toBe('first');
    const startedAt = Date.now();
    const second = outcome(upstream.run('memberships', clerk.answer('second')));
    await vi.advanceTimersByTimeAsync(0);
    expect(second.error).toBeInstanceOf(UpstreamRefusedError);
    expect(second.error).toBeInstanceOf(UpstreamRateLimitedError);
    expect(second.error).toMatchObject({ reason: 'deadline', retryAfterSeconds: 4 });
    expect(second.at).toBe(startedAt);
    expect(clerk.calls).toBe(1);
    expect(upstream.stats().queued).toBe(0);
    expect(events).toContain('refused memberships deadline');
  });

  it('a call that can start in time waits its turn for the budget', async () => {
    const clerk = fakeClerk(50);
    const { events, observer } = recorder();
    const upstream = createUpstream({
      timeoutMs: 400,
      defaultDeadlineMs: 2000,
      budget: { requests: 1, windowMs: 1000 },
      observer,
    });
    const startedAt = Date.now();
    const first = outcome(upstream.run('memberships', clerk.answer(1)));
    const second = outcome(upstream.run('memberships', clerk.answer(2)));
    await vi.advanceTimersByTimeAsync(1050 + 50);
    expect(first.value).toBe(1);
    expect(second.value).toBe(2);
    expect(second.at).toBe(startedAt + 1050 + 50); // the padded window, then Clerk's 50 ms
    expect(events).toContain('waited memberships');
  });

  it('the queue is bounded', async () => {
    const clerk = fakeClerk(10);
    const upstream = createUpstream({
      timeoutMs: 400,
      defaultDeadlineMs: 60_000,
      budget: { requests: 1, windowMs: 1000 },
      maxQueue: 3,
    });
    const results = Array.from({ length: 6 }, (_, i) =>
      outcome(upstream.run('memberships', clerk.answer(i))),
    );
    await vi.advanceTimersByTimeAsync(0);
    // One started, three wait, two refused at once.
    expect(results.filter((r) => (r.error as UpstreamRefusedError)?.reason === 'queue_full')).toHaveLength(2);
    expect(upstream.stats().queued).toBe(3);
    await vi.advanceTimersByTimeAsync(4 * 1050);
    expect(results.filter((r) => r.value !== undefined)).toHaveLength(4);
  });

  it('flood: one caller’s 50 calls cannot starve another caller; the excess fails fast', async () => {
    const latencyMs = 200;
    const clerk = fakeClerk(latencyMs);
    const upstream = createUpstream({
      timeoutMs: 2000,
      defaultDeadlineMs: 3000,
      budget: { requests: 10, windowMs: 1000 },
      maxPerCaller: 5,
    });
    const startedAt = Date.now();
    const flood = Array.from({ length: 50 }, (_, i) =>
      outcome(upstream.run('memberships', clerk.answer(i), { caller: 'user_flooder' })),
    );
    const other = outcome(upstream.run('memberships', clerk.answer('mine'), { caller: 'user_other' }));
    await vi.advanceTimersByTimeAsync(0);
    const refusedAtOnce = flood.filter((r) => r.error instanceof UpstreamRateLimitedError);
    expect(refusedAtOnce).toHaveLength(45);
    expect(refusedAtOnce.every((r) => (r.error as UpstreamRefusedError).reason === 'caller_limit')).toBe(
      true,
    );
    expect(refusedAtOnce.every((r) => r.at === startedAt)).toBe(true);
    await vi.advanceTimersByTimeAsync(2 * latencyMs);
    expect(other.value).toBe('mine');
    expect((other.at as number) - startedAt).toBeLessThanOrEqual(2 * latencyMs);
  });

  it('callers take turns for a spent budget: a newcomer goes next, not after the whole backlog', async () => {
    const upstream = createUpstream({
      timeoutMs: 400,
      defaultDeadlineMs: 60_000,
      budget: { requests: 1, windowMs: 1000 },
      maxPerCaller: 100,
    });
    const order: string[] = [];
    const call = (caller: string, label: string, priority: 'interactive' | 'background' = 'interactive') =>
      upstream.run(
        'memberships',
        () => {
          order.push(label);
          return Promise.resolve(label);
        },
        { caller, priority },
      );
    const all = [
      call('a', 'a1'),
      call('a', 'a2'),
      call('a', 'a3'),
      call('a', 'a4'),
      call('refresh', 'background', 'background'),
      call('b', 'b1'),
    ];
    await vi.advanceTimersByTimeAsync(6 * 1050);
    await Promise.all(all);
    expect(order).toEqual(['a1', 'a2', 'b1', 'a3', 'a4', 'background']);
  });

  it('a waiting call whose deadline passes is dropped, never sent', async () => {
    const { events, observer } = recorder();
    const upstream = createUpstream({
      timeoutMs: 400,
      budget: { requests: 1, windowMs: 1000 },
      observer,
    });
    const sent: string[] = [];
    const request = (label: string) => () => {
      sent.push(label);
      return Promise.resolve(label);
    };
    const startedAt = Date.now();
    void upstream.run('memberships', request('first'));
    // May start at 1050, within its deadline: it waits.
    const background = outcome(
      upstream.run('memberships', request('background'), {
        priority: 'background',
        deadline: startedAt + 1500,
      }),
    );
    // An interactive call takes that slot; the background one would now start at 2100, past its deadline.
    const interactive = outcome(
      upstream.run('memberships', request('interactive'), { deadline: startedAt + 1500 }),
    );
    await vi.advanceTimersByTimeAsync(1500);
    expect(interactive.value).toBe('interactive');
    expect(background.error).toMatchObject({ reason: 'deadline' });
    expect(background.at).toBeLessThan(startedAt + 1500);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent).toEqual(['first', 'interactive']);
    expect(events).toContain('refused memberships deadline');
  });

  it('an abandoned waiting call is removed and never sent', async () => {
    const clerk = fakeClerk(10);
    const upstream = createUpstream({ timeoutMs: 400, budget: { requests: 1, windowMs: 1000 } });
    void upstream.run('memberships', clerk.answer('first'));
    const controller = new AbortController();
    const abandoned = outcome(
      upstream.run('memberships', clerk.answer('second'), { signal: controller.signal }),
    );
    await vi.advanceTimersByTimeAsync(100);
    controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect((abandoned.error as Error).name).toBe('AbortError');
    expect(upstream.stats().queued).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(clerk.calls).toBe(1);
  });

  it('the call’s timeout is cut by its deadline, and retries happen only while the deadline allows', async () => {
    const clerk = fakeClerk(100);
    const upstream = createUpstream({
      timeoutMs: 2000,
      budget: { requests: 100, windowMs: 1000 },
      random: () => 1, // backoff 100 ms, then 200 ms
    });
    const startedAt = Date.now();
    const hung = outcome(upstream.run('memberships', clerk.hang(), { deadline: startedAt + 300 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(hung.error).toBeInstanceOf(UpstreamUnavailableError);
    expect(hung.at).toBe(startedAt + 300);

    // 503s: the first try fails at 100, retry 1 at 200 fails at 300, retry 2 would start at 500: past 450.
    const before = clerk.calls;
    const failing = outcome(
      upstream.run(
        'invitations',
        clerk.fail(() => new UpstreamUnavailableError('503', 503)),
        { deadline: Date.now() + 450 },
      ),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(failing.error).toBeInstanceOf(UpstreamUnavailableError);
    expect(clerk.calls - before).toBe(2);
  });

  it('a failing route opens its circuit: calls are refused at once, then one probe closes it again', async () => {
    const clerk = fakeClerk(50);
    const { events, observer } = recorder();
    const upstream = createUpstream({
      timeoutMs: 400,
      budget: { requests: 1000, windowMs: 1000 },
      breaker: { failureThreshold: 5, cooldownMs: 5000 },
      observer,
    });
    // Five timeouts (each a full CLERK_TIMEOUT_MS), not retried.
    for (let i = 0; i < 5; i++) {
      const hung = outcome(upstream.run('memberships', clerk.hang()));
      await vi.advanceTimersByTimeAsync(400);
      expect(hung.error).toBeInstanceOf(UpstreamUnavailableError);
    }
    expect(events).toContain('circuit memberships open');
    expect(upstream.stats().circuits.memberships).toBe('open');

    const calls = clerk.calls;
    const refusedAt = Date.now();
    const refused = outcome(upstream.run('memberships', clerk.answer('x')));
    await vi.advanceTimersByTimeAsync(0);
    expect(refused.error).toBeInstanceOf(CircuitOpenError);
    expect(refused.error).toBeInstanceOf(UpstreamUnavailableError);
    expect(refused.error).toMatchObject({ circuitOpen: true, retryAfterSeconds: 5 });
    expect(refused.at).toBe(refusedAt);
    expect(clerk.calls).toBe(calls);
    // Other routes are not affected.
    await expect(upstream.run('invitations', () => Promise.resolve('ok'))).resolves.toBe('ok');

    await vi.advanceTimersByTimeAsync(5000);
    const probe = outcome(upstream.run('memberships', clerk.answer('back')));
    const duringProbe = outcome(upstream.run('memberships', clerk.answer('too early')));
    await vi.advanceTimersByTimeAsync(50);
    expect(probe.value).toBe('back');
    expect(duringProbe.error).toBeInstanceOf(CircuitOpenError);
    expect(upstream.stats().circuits.memberships).toBe('closed');
    expect(events.filter((e) => e.startsWith('circuit'))).toEqual([
      'circuit memberships open',
      'circuit memberships half_open',
      'circuit memberships closed',
    ]);
  });

  it('503s open it too (each retry counts), 429s do not (they pause the route)', async () => {
    const clerk = fakeClerk(10);
    const upstream = createUpstream({
      timeoutMs: 400,
      budget: { requests: 1000, windowMs: 1000 },
      breaker: { failureThreshold: 5, cooldownMs: 5000 },
      random: () => 0,
    });
    for (let i = 0; i < 5; i++) {
      const limited = outcome(
        upstream.run(
          'invitations',
          clerk.fail(() => new UpstreamRateLimitedError(0)),
        ),
      );
      await vi.advanceTimersByTimeAsync(20);
      expect(limited.error).toBeInstanceOf(UpstreamRateLimitedError);
    }
    expect(upstream.stats().circuits.invitations).toBe('closed');

    const first = outcome(
      upstream.run(
        'memberships',
        clerk.fail(() => new UpstreamUnavailableError('503', 503)),
      ),
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(first.error).toBeInstanceOf(UpstreamUnavailableError);
    expect(clerk.calls).toBe(5 + 3);
    const second = outcome(
      upstream.run(
        'memberships',
        clerk.fail(() => new UpstreamUnavailableError('503', 503)),
      ),
    );
    await vi.advanceTimersByTimeAsync(100);
    // Two more calls made the fifth failure: the circuit opened, and the last retry was not made.
    expect(second.error).toBeInstanceOf(CircuitOpenError);
    expect(clerk.calls).toBe(5 + 3 + 2);
  });

  it('labels each call by what ended it: only a missing organization is not_found', async () => {
    const clerk = fakeClerk(10);
    const outcomes: string[] = [];
    const upstream = createUpstream({
      timeoutMs: 400,
      budget: { requests: 1000, windowMs: 1000 },
      observer: {
        called: (route, outcome, status) => outcomes.push(`${route} ${outcome} ${status}`),
        budgetWait: () => {},
        blocked: () => {},
      },
    });
    const missing = outcome(
      upstream.run(
        'memberships',
        clerk.fail(() => new OrganizationNotFoundError('org_gone')),
      ),
    );
    // Not a domain error at all (a bug in a mapper, say): a failed call, not a missing organization.
    const broken = outcome(
      upstream.run(
        'user_memberships',
        clerk.fail(() => new TypeError('cannot read properties of undefined')),
      ),
    );
    await vi.advanceTimersByTimeAsync(20);
    expect(missing.error).toBeInstanceOf(OrganizationNotFoundError);
    expect(broken.error).toBeInstanceOf(TypeError);
    expect(outcomes).toEqual(['memberships not_found 404', 'user_memberships error undefined']);
  });

  it('opening the circuit answers the calls waiting for that route at once', async () => {
    const clerk = fakeClerk(50);
    const upstream = createUpstream({
      timeoutMs: 400,
      defaultDeadlineMs: 60_000,
      budget: { requests: 1, windowMs: 1000 },
      breaker: { failureThreshold: 1, cooldownMs: 5000 },
    });
    const hung = outcome(upstream.run('memberships', clerk.hang()));
    const waiting = outcome(upstream.run('memberships', clerk.answer('never')));
    await vi.advanceTimersByTimeAsync(400);
    expect(hung.error).toBeInstanceOf(UpstreamUnavailableError);
    expect(waiting.error).toBeInstanceOf(CircuitOpenError);
    expect(waiting.at).toBe(hung.at);
    expect(clerk.calls).toBe(1);
  });

  it('close() refuses what waits and what comes', async () => {
    const upstream = createUpstream({
      timeoutMs: 400,
      defaultDeadlineMs: 60_000,
      budget: { requests: 1, windowMs: 1000 },
    });
    void upstream.run('memberships', () => Promise.resolve(1));
    const waiting = outcome(upstream.run('memberships', () => Promise.resolve(2)));
    upstream.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(waiting.error).toBeInstanceOf(UpstreamUnavailableError);
    await expect(upstream.run('memberships' as UpstreamRoute, () => Promise.resolve(3))).rejects.toThrow(
      /shutting down/,
    );
  });
});
