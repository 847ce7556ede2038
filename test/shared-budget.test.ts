/**
 * The Clerk budget shared by replicas through a real Redis: three upstream policies in this process (each with its
 * own Redis client, Clerk SDK client and queue, as three replicas would have) read cold organizations from the
 * emulator, whose request log is the judge. No mocks: a real redis-server (test/helpers/redis.ts), killed and
 * restarted by pid where a test says so.
 */
import { createClerkClient } from '@clerk/backend';
import { type RunningClerkEmulator, startClerkEmulator } from '@team-graphql/clerk-emulator';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClerkHttp, installClerkHttp } from '../src/clerk/http-agent.js';
import { createClerkSource } from '../src/clerk/source.js';
import {
  type BudgetMode,
  createSharedBudget,
  type SharedBudget,
} from '../src/clerk/upstream/shared-budget.js';
import { createUpstream, currentCallSignal, type Upstream } from '../src/clerk/upstream.js';
import { createRedisClient } from '../src/shared-state/connection.js';
import { registerSharedBudgetMetrics } from '../src/shared-state/redis-metrics.js';
import {
  budgetNamespace,
  createSharedBudgetStore,
  sharedBudgetKeys,
} from '../src/shared-state/shared-budget-store.js';
import { UpstreamRateLimitedError } from '../src/team/errors.js';
import type { TeamSource } from '../src/team/types.js';
import { seedTeam } from './helpers/fixtures.js';
import { startHarness } from './helpers/harness.js';
import { type RedisProcess, redisAvailable, startRedis } from './helpers/redis.js';

const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';
const INVITATIONS = 'GET /v1/organizations/{id}/invitations';

interface Replica {
  budget: SharedBudget;
  upstream: Upstream;
  source: TeamSource;
  redis: Redis;
  http: ClerkHttp;
  /** Every mode this replica's budget switched to, in order. */
  modes: BudgetMode[];
  /** Resolves when the budget next switches to `mode` (at once if it is in it). */
  whenMode(mode: BudgetMode): Promise<void>;
}

interface Budget {
  requests: number;
  windowMs: number;
}

/** One replica's Clerk side, as src/app.ts wires it with REDIS_URL set. */
function replica(
  redisUrl: string,
  emulator: RunningClerkEmulator,
  budget: Budget,
  namespace: string,
  redisTimeoutMs = 200,
  heartbeatMs = 100,
): Replica {
  const redis = createRedisClient({ url: redisUrl, role: 'budget', timeoutMs: redisTimeoutMs });
  const modes: BudgetMode[] = [];
  const waiters: { mode: BudgetMode; resolve: () => void }[] = [];
  const shared = createSharedBudget({
    store: createSharedBudgetStore({ client: redis, timeoutMs: redisTimeoutMs, namespace }),
    ...budget,
    heartbeatMs,
    onModeChange(mode) {
      modes.push(mode);
      for (const waiter of waiters.splice(0)) {
        if (waiter.mode === mode) waiter.resolve();
        else waiters.push(waiter);
      }
    },
  });
  const upstream = createUpstream({
    timeoutMs: 5000,
    // Every call waits for the budget as long as it takes: these tests count calls, they do not race deadlines.
    defaultDeadlineMs: 120_000,
    maxQueue: 10_000,
    breaker: { failureThreshold: 0 },
    maxInFlight: 32,
    budget,
    sharedBudget: shared,
  });
  // Each replica's bounded sockets to Clerk, as the app installs them.
  const http = installClerkHttp({
    apiUrl: emulator.url,
    maxSockets: 32,
    timeoutMs: 5000,
    currentSignal: currentCallSignal,
  });
  const clerk = createClerkClient({
    secretKey: emulator.secretKey,
    apiUrl: emulator.url,
    telemetry: { disabled: true },
  });
  return {
    budget: shared,
    upstream,
    source: createClerkSource({ clerk, upstream }),
    redis,
    http,
    modes,
    whenMode: (mode) =>
      shared.mode === mode ? Promise.resolve() : new Promise((resolve) => waiters.push({ mode, resolve })),
  };
}

async function closeReplica(r: Replica) {
  r.upstream.close();
  await r.budget.close();
  r.redis.disconnect();
  await r.http.close();
}

/** Three replicas sharing one budget; resolves once each has seen all three through Redis. */
async function threeReplicas(redisUrl: string, emulator: RunningClerkEmulator, budget: Budget) {
  const namespace = budgetNamespace(`sk_test_${Math.random()}`);
  const replicas = [0, 1, 2].map(() => replica(redisUrl, emulator, budget, namespace));
  await Promise.all(replicas.map((r) => r.whenMode('shared')));
  // Every replica's heartbeat after all three have registered: each counts three.
  await Promise.all(replicas.map((r) => r.budget.heartbeat()));
  for (const r of replicas) expect(r.budget.stats().replicas).toBe(3);
  return { replicas, namespace };
}

function organizations(emulator: RunningClerkEmulator, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => seedTeam(emulator, { name: `Budget org ${i}`, admins: 0, members: 2 }).organizationId,
  );
}

/** Resolves to the error a call failed with, or undefined. */
const failure = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => undefined,
    (error: unknown) => error ?? 'failed',
  );

/** The most requests the log shows in any span of `windowMs` (sliding over every arrival). */
function busiestWindow(arrivals: number[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while ((sorted[first] as number) + windowMs <= (sorted[last] as number)) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

const run = redisAvailable('shared Clerk budget');

describe.skipIf(!run)(
  'the Clerk budget shared through Redis (three replicas, one real Redis, the emulator)',
  () => {
    let redis: RedisProcess;
    let emulator: RunningClerkEmulator | undefined;
    let replicas: Replica[] = [];

    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });
    afterEach(async () => {
      await Promise.all(replicas.map(closeReplica));
      replicas = [];
      await emulator?.close();
      emulator = undefined;
    });

    it('1,000 cold organizations through three replicas, Clerk’s production limit on: zero 429s, no window over the budget', async () => {
      emulator = await startClerkEmulator({ seed: 'empty', rateLimit: 'production' });
      const budget = { requests: 1000, windowMs: 10_000 };
      ({ replicas } = await threeReplicas(redis.url, emulator, budget));
      const ids = organizations(emulator, 1000);
      // Replicas that have served before (the SDK's first call on a fresh client is slow to leave): one call each.
      await Promise.all(replicas.map((r) => r.source.readUserMemberships('user_warm_up')));

      // A roster and its invitations per organization: 2,000 calls, twice what Clerk allows in 10 s. Three replicas
      // each keeping 1,000 per window alone would send them all at once. Issued as a server receives them, in
      // separate turns of the event loop (50 organizations a turn).
      const starts: number[] = [];
      const read = { onCall: () => starts.push(Date.now()) };
      const reads: Promise<unknown>[] = [];
      for (const [i, id] of ids.entries()) {
        const { source } = replicas[i % 3] as Replica;
        reads.push(failure(source.readRoster(id, read)), failure(source.readPendingInvitations(id, read)));
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }

      expect((await Promise.all(reads)).filter(Boolean)).toEqual([]);
      const log = emulator.control.requestLog();
      expect(log).toHaveLength(3 + 2000);
      // Clerk's side: its production limiter (1,000 per 10 s) never refused a call.
      expect(log.filter((entry) => entry.status === 429)).toHaveLength(0);
      // Ours: the three replicas together started at most CLERK_RATE_LIMIT calls in any window. (Judged on starts, not
      // on the emulator's arrival times: in this one process on a shared machine a start can take 700 ms to arrive,
      // more than the window's 5% pad, which a sliding check on arrivals then reads as 1-2% over. Clerk's own
      // limiter, a token bucket, is not troubled by that: zero 429s above.)
      expect(starts).toHaveLength(2000);
      expect(busiestWindow(starts, 10_000)).toBeLessThanOrEqual(1000);
    }, 60_000);

    it('a 429 with Retry-After seen by one replica pauses that route on the others: none of their calls reaches Clerk', async () => {
      emulator = await startClerkEmulator({ seed: 'empty' });
      let namespace: string;
      ({ replicas, namespace } = await threeReplicas(redis.url, emulator, {
        requests: 1000,
        windowMs: 10_000,
      }));
      const [a, b, c] = replicas as [Replica, Replica, Replica];
      const [first, second, third] = organizations(emulator, 3) as [string, string, string];
      emulator.control.injectFault({
        route: MEMBERSHIPS,
        kind: 'rateLimit',
        count: 1,
        retryAfterSeconds: 60,
      });

      await expect(a.source.readRoster(first)).rejects.toMatchObject({ retryAfterSeconds: 60 });
      // A's pause reaches Redis on its own connection; B and C ask once it is there.
      const probe = new Redis(redis.url);
      try {
        await vi.waitFor(async () => {
          expect(await probe.pttl(sharedBudgetKeys(namespace).pause('memberships'))).toBeGreaterThan(0);
        });
      } finally {
        probe.disconnect();
      }

      const refusals = await Promise.all([
        failure(b.source.readRoster(second)),
        failure(c.source.readRoster(third)),
      ]);
      for (const error of refusals) {
        expect(error).toBeInstanceOf(UpstreamRateLimitedError);
        expect((error as UpstreamRateLimitedError).retryAfterSeconds).toBeGreaterThan(50);
      }
      // Counted, not timed: the one 429 and nothing after it on that route.
      expect(emulator.control.counters()[MEMBERSHIPS]).toBe(1);
      // Other routes are not paused.
      await expect(b.source.readPendingInvitations(second)).resolves.toBeDefined();
      expect(emulator.control.counters()[INVITATIONS]).toBe(1);
    });

    it('Redis slow: a call does not wait for it, it is made within the local share, and the next heartbeat brings the replica back', async () => {
      emulator = await startClerkEmulator({ seed: 'empty' });
      const namespace = budgetNamespace(`sk_test_${Math.random()}`);
      // Heartbeats far apart, so it is the reservation itself that finds Redis too slow.
      const r = replica(redis.url, emulator, { requests: 30, windowMs: 10_000 }, namespace, 200, 60_000);
      replicas = [r];
      await r.whenMode('shared');
      const probe = new Redis(redis.url);
      try {
        const [org] = organizations(emulator, 1) as [string];
        await probe.call('CLIENT', 'PAUSE', '3000', 'ALL');
        let pauseOver = false;
        const pinged = probe.ping().then(
          () => {
            pauseOver = true;
          },
          () => {},
        );
        expect(await failure(r.source.readRoster(org))).toBeUndefined();
        // Answered while Redis still held every command.
        expect(pauseOver).toBe(false);
        // The only live replica it has seen: the whole limit is its share.
        expect(r.budget.stats()).toMatchObject({ mode: 'local', replicas: 1, localShare: 30 });
        await pinged;
        await r.budget.heartbeat();
        expect(r.modes).toEqual(['shared', 'local', 'shared']);
      } finally {
        probe.disconnect();
      }
    });

    it('a call abandoned while its reservation is on its way to Redis is never sent and keeps no slot', async () => {
      emulator = await startClerkEmulator({ seed: 'empty' });
      const namespace = budgetNamespace(`sk_test_${Math.random()}`);
      // Redis slow but within this replica's timeout: CLIENT PAUSE holds every command for 300 ms.
      const r = replica(redis.url, emulator, { requests: 1000, windowMs: 10_000 }, namespace, 5000);
      replicas = [r];
      await r.whenMode('shared');
      const probe = new Redis(redis.url);
      const windowKey = sharedBudgetKeys(namespace).window;
      try {
        const [x, y, z] = organizations(emulator, 3) as [string, string, string];
        await probe.call('CLIENT', 'PAUSE', '300', 'ALL');
        const abandonX = new AbortController();
        const onX = failure(r.source.readRoster(x, { signal: abandonX.signal }));
        const onY = failure(r.source.readRoster(y));
        abandonX.abort(new Error('gone'));
        // The grant asked for X goes to Y, the call at the head of the queue when it arrives.
        expect(await onX).toMatchObject({ message: 'gone' });
        expect(await onY).toBeUndefined();
        expect(emulator.control.counters()[MEMBERSHIPS]).toBe(1);
        expect(await probe.zcard(windowKey)).toBe(1);

        await probe.call('CLIENT', 'PAUSE', '300', 'ALL');
        const abandonZ = new AbortController();
        const onZ = failure(r.source.readRoster(z, { signal: abandonZ.signal }));
        abandonZ.abort(new Error('gone too'));
        expect(await onZ).toMatchObject({ message: 'gone too' });
        // Asked on the replica's own connection, so after Z's reservation: the start it was granted is there…
        expect(await r.redis.zcard(windowKey)).toBe(2);
        // …and is given back, nobody being left to use it.
        await vi.waitFor(async () => expect(await r.redis.zcard(windowKey)).toBe(1));
        expect(emulator.control.counters()[MEMBERSHIPS]).toBe(1);
        expect(r.modes).toEqual(['shared']);
      } finally {
        probe.disconnect();
      }
    });
  },
);

describe.skipIf(!run)('Redis down: each replica keeps to its local share; Redis back: shared again', () => {
  let emulator: RunningClerkEmulator | undefined;
  let replicas: Replica[] = [];
  let redis: RedisProcess | undefined;

  afterEach(async () => {
    await Promise.all(replicas.map(closeReplica));
    replicas = [];
    await emulator?.close();
    emulator = undefined;
    await redis?.stop();
    redis = undefined;
  });

  it('Redis killed under load: no call fails and none is refused by Clerk; restarted: the window is Redis’s again', async () => {
    redis = await startRedis();
    // A small limit so the local shares are felt within a test: 30 per 3 s, Clerk-side (the emulator's token bucket)
    // and ours.
    const budget = { requests: 30, windowMs: 3000 };
    emulator = await startClerkEmulator({ seed: 'empty', rateLimit: budget });
    let namespace: string;
    ({ replicas, namespace } = await threeReplicas(redis.url, emulator, budget));
    const registry = new Registry();
    registerSharedBudgetMetrics(registry, (replicas[0] as Replica).budget);
    // Serving before Redis dies: one read each, counted in the shared window, which each replica then looks at.
    // Starts as each replica makes them (its SourceRead.onCall), per replica.
    const starts = replicas.map(() => [] as number[]);
    const reading = (i: number) => ({ onCall: () => starts[i]?.push(Date.now()) });
    const before = replicas.map(() => organizations(emulator as RunningClerkEmulator, 1)[0] as string);
    await Promise.all(replicas.map((r, i) => r.source.readRoster(before[i] as string, reading(i))));
    await Promise.all(replicas.map((r) => r.budget.heartbeat()));

    await redis.stop();
    await Promise.all(replicas.map((r) => r.whenMode('local')));
    for (const r of replicas) expect(r.budget.stats()).toMatchObject({ mode: 'local', localShare: 10 });
    expect(await registry.metrics()).toContain('clerk_budget_mode{mode="local"} 1');

    // 12 cold rosters per replica, all at once: more than each one's share. Each keeps to 10 per window, less its
    // part of the 3 starts the shared window held: 27 now, the rest when the window has moved on.
    const ids = replicas.map(() => organizations(emulator as RunningClerkEmulator, 12));
    const failures = await Promise.all(
      replicas.flatMap((r, i) =>
        (ids[i] as string[]).map((id) => failure(r.source.readRoster(id, reading(i)))),
      ),
    );
    expect(failures.filter(Boolean)).toEqual([]);
    const log = emulator.control.requestLog();
    expect(log).toHaveLength(3 + 36);
    expect(log.filter((entry) => entry.status === 429)).toHaveLength(0);
    // Together within the limit, counting the starts made before Redis died; each within its share of 10.
    expect(busiestWindow(starts.flat(), 3000)).toBeLessThanOrEqual(30);
    for (const mine of starts) {
      expect(mine).toHaveLength(1 + 12);
      expect(busiestWindow(mine.slice(1), 3000)).toBeLessThanOrEqual(10);
    }

    await redis.restart();
    await Promise.all(replicas.map((r) => r.whenMode('shared')));
    expect(await registry.metrics()).toContain('clerk_budget_mode{mode="shared"} 1');
    const [after] = organizations(emulator, 1) as [string];
    await (replicas[1] as Replica).source.readRoster(after);
    // The call was counted in the shared window in Redis.
    const probe = new Redis(redis.url);
    try {
      expect(await probe.zcard(sharedBudgetKeys(namespace).window)).toBeGreaterThanOrEqual(1);
    } finally {
      probe.disconnect();
    }
    for (const r of replicas) expect(r.modes).toEqual(['shared', 'local', 'shared']);
  }, 30_000);
});

describe.skipIf(!run)('the app with REDIS_URL', () => {
  it('serves queries whether Redis is up or down, and says which budget it keeps to in /metrics', async () => {
    const redis = await startRedis();
    const h = await startHarness({ emulator: { seed: 'empty' }, config: { redisUrl: redis.url } });
    try {
      const metric = async () => (await fetch(`${h.adminUrl}/metrics`)).text();
      await vi.waitFor(async () => expect(await metric()).toContain('clerk_budget_mode{mode="shared"} 1'));
      const read = async () => {
        const { organizationId: id, members } = seedTeam(h.emulator, {
          admins: 0,
          members: 2,
          tokens: { expiresInS: 600 },
        });
        return h.query<{ organization: { members: { totalCount: number } } }, { id: string }>(
          'query($id: ID!) { organization(id: $id) { members { totalCount } } }',
          { token: members[0]?.token, variables: { id } },
        );
      };
      expect((await read()).data?.organization.members.totalCount).toBe(2);

      await redis.stop();
      const down = await read();
      expect(down.errors).toBeUndefined();
      expect(down.data?.organization.members.totalCount).toBe(2);
      await vi.waitFor(async () => expect(await metric()).toContain('clerk_budget_mode{mode="local"} 1'));
    } finally {
      await h.close();
      await redis.stop();
    }
  });
});
