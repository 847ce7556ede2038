/**
 * Write limits of team actions (issue 21, "Budget and abuse"): a per-user limit and Clerk's instance-wide invitation
 * limits, all or nothing; shared by the replicas through Redis, and per replica (insurance) while Redis is silent.
 * No waiting: the windows are long, and a refusal's `retryAfterMs` is checked instead.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWriteLimits, type WriteLimitsOptions } from '../src/actions/write-limits.js';
import { redisAvailable } from './helpers/redis.js';
import { type Cluster, startCluster, until } from './helpers/replicas.js';

const user = () => `user_${randomUUID()}`;
const SMALL: WriteLimitsOptions = {
  userWritesPerMinute: 3,
  invitationCreatesPerHour: 10,
  invitationBulkCallsPerHour: 2,
};

describe('write limits (in process)', () => {
  it("a user's writes past the per-minute limit are refused with a retry time; other users are not", async () => {
    const limits = createWriteLimits(SMALL);
    const ada = user();
    for (let write = 0; write < 3; write++) expect(await limits.take(ada, {})).toEqual({ allowed: true });
    const refused = await limits.take(ada, {});
    expect(refused).toMatchObject({ allowed: false, limit: 'user_writes' });
    if (refused.allowed) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(await limits.take(user(), {})).toEqual({ allowed: true });
  });

  it("Clerk's invitation creates are counted for the whole instance, all or nothing", async () => {
    const limits = createWriteLimits(SMALL);
    expect(await limits.take(user(), { invitations: 8, bulkCalls: 1 })).toEqual({ allowed: true });
    const grace = user();
    const refused = await limits.take(grace, { invitations: 5, bulkCalls: 1 });
    expect(refused).toMatchObject({ allowed: false, limit: 'invitation_creates' });
    if (refused.allowed) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(3600_000);
    // The refused take gave back what it took: Grace's write, and the 5 invitations (2 still fit).
    for (let write = 0; write < 3; write++) expect(await limits.take(grace, {})).toEqual({ allowed: true });
    expect(await limits.take(user(), { invitations: 2, bulkCalls: 1 })).toEqual({ allowed: true });
    expect(await limits.take(user(), { invitations: 1 })).toMatchObject({ limit: 'invitation_creates' });
  });

  it('bulk invitation calls: refused past the hourly limit, and the invitations taken before are given back', async () => {
    const limits = createWriteLimits(SMALL);
    expect(await limits.take(user(), { invitations: 1, bulkCalls: 2 })).toEqual({ allowed: true });
    expect(await limits.take(user(), { invitations: 3, bulkCalls: 1 })).toMatchObject({
      allowed: false,
      limit: 'invitation_bulk_calls',
    });
    // 1 + 9 = 10: the 3 refused invitations were given back.
    expect(await limits.take(user(), { invitations: 9 })).toEqual({ allowed: true });
  });
});

describe.skipIf(!redisAvailable('write-limits.test.ts'))('write limits with Redis (two replicas)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      replicas: 2,
      config: { writeRateLimitPerMinute: 3, clerkBudgetAssumedReplicas: 2 },
    });
  }, 30_000);
  afterAll(() => cluster?.close());

  const sharedOf = (index: number) => {
    const shared = cluster.replicas[index]?.app.shared;
    if (!shared) throw new Error('the cluster runs with REDIS_URL');
    return shared;
  };
  /** Each replica's limits, as app.ts builds them, counting for an instance of the test's own. */
  const limitsOnBoth = () => {
    const instanceKey = `instance-${randomUUID()}`;
    return [0, 1].map((index) =>
      createWriteLimits({ ...SMALL, shared: sharedOf(index).writeLimiter, assumedReplicas: 2, instanceKey }),
    ) as [ReturnType<typeof createWriteLimits>, ReturnType<typeof createWriteLimits>];
  };

  it("the app's per-user limit counts a user's writes on every replica together", async () => {
    const [a, b] = cluster.replicas.map((replica) => replica.app.writeLimits);
    const ada = user();
    expect(await a?.take(ada, {})).toEqual({ allowed: true });
    expect(await b?.take(ada, {})).toEqual({ allowed: true });
    expect(await a?.take(ada, {})).toEqual({ allowed: true });
    expect(await b?.take(ada, {})).toMatchObject({ allowed: false, limit: 'user_writes' });
  });

  it("Clerk's invitation limit is one for the deployment, and a refusal on one replica gives back everywhere", async () => {
    const [a, b] = limitsOnBoth();
    expect(await a.take(user(), { invitations: 8 })).toEqual({ allowed: true });
    const refused = await b.take(user(), { invitations: 3 });
    expect(refused).toMatchObject({ allowed: false, limit: 'invitation_creates' });
    if (refused.allowed) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(await a.take(user(), { invitations: 2 })).toEqual({ allowed: true });
  });

  it("Redis paused (SIGSTOP): each replica counts alone, with its share of Clerk's limits", async () => {
    const [a, b] = limitsOnBoth();
    process.kill(cluster.redis.pid, 'SIGSTOP');
    try {
      // 10 per hour shared by 2 assumed replicas: 5 for this one while it counts alone.
      expect(await a.take(user(), { invitations: 5 })).toEqual({ allowed: true });
      expect(await a.take(user(), { invitations: 1 })).toMatchObject({
        allowed: false,
        limit: 'invitation_creates',
      });
    } finally {
      process.kill(cluster.redis.pid, 'SIGCONT');
    }
    await until(() => sharedOf(0).health().up);
    // Redis again: one count for both replicas. (Takes sent to the paused Redis are counted there when it resumes:
    // the client gave up on them, Redis did not. Over-counting, the safe side.)
    let taken = 0;
    while (taken < 10 && (await a.take(user(), { invitations: 1 })).allowed) taken++;
    expect(taken).toBeLessThan(10);
    expect(await b.take(user(), { invitations: 1 })).toMatchObject({
      allowed: false,
      limit: 'invitation_creates',
    });
  });
});
