/**
 * The shared Clerk budget end to end (issue 11): 1,000 cold organizations queried over HTTP through three replicas
 * that share one real Redis, against an emulator enforcing Clerk's production limit (1,000 calls per 10 s per secret
 * key). Each replica alone keeps CLERK_RATE_LIMIT = 1,000; only the shared window keeps the three together under
 * Clerk's limit. The unit-level twin (three upstreams, starts per window, a 429's pause, Redis down) is
 * test/shared-budget.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TeamPage } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { redisAvailable } from './helpers/redis.js';
import { type Cluster, type Replica, startCluster } from './helpers/replicas.js';

const ORGANIZATIONS = 1000;

describe.skipIf(!redisAvailable('replicas-budget.test.ts'))('three replicas, one Clerk budget', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      replicas: 3,
      emulator: { seed: 'empty', rateLimit: 'production' },
      // Every call waits its turn in the shared window rather than being refused at a deadline.
      config: { requestDeadlineMs: 60_000 },
    });
  }, 30_000);
  afterAll(() => cluster?.close());

  it('1,000 cold organizations over three replicas with Clerk’s production limit on: every query answered, zero 429s', async () => {
    const { emulator, replicas } = cluster;
    // One member each, with their own token (its active-organization claim is the evidence: no membership list is
    // read); each query asks for the roster and the pending invitations, 2,000 Clerk calls in all, twice what Clerk
    // allows in 10 s.
    const teams = Array.from({ length: ORGANIZATIONS }, (_, index) => {
      const team = seedTeam(emulator, { name: `Budget ${index}` });
      return { id: team.organizationId, token: team.admin.token };
    });
    emulator.control.resetCounters();

    const answers = await Promise.all(
      teams.map(({ id, token }, index) =>
        (replicas[index % replicas.length] as Replica).query(TeamPage, {
          token,
          variables: { id, limit: 1, offset: 0, includePending: true },
        }),
      ),
    );

    const failed = answers.filter((answer) => answer.status !== 200 || answer.errors);
    expect(failed.map((answer) => answer.errors?.[0]?.extensions?.code)).toEqual([]);
    expect(answers.every((answer) => answer.data?.organization.members.totalCount === 1)).toBe(true);
    const log = emulator.control.requestLog();
    // The calls really were more than one window's worth: the budget, not luck, kept them apart.
    expect(log.length).toBeGreaterThanOrEqual(2 * ORGANIZATIONS);
    // Clerk's side: its production limiter never refused a call.
    expect(log.filter((entry) => entry.status === 429)).toHaveLength(0);
  }, 90_000);
});
