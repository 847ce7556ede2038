/**
 * Redis failure is not an outage (issue 11): with three replicas under load, Redis is killed (SIGKILL) and started
 * again, empty. No query fails meanwhile (replicas serve their own caches and read Clerk themselves); a webhook that
 * reaches A while Redis is down is still answered and applied on A; once Redis is back, each replica invalidates its
 * local cache exactly once (it may have missed messages) and the bus works again: a new webhook reaches every
 * replica.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TeamPage } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { redisAvailable } from './helpers/redis.js';
import { type Cluster, type Replica, startCluster, until } from './helpers/replicas.js';

describe.skipIf(!redisAvailable('replicas-failure.test.ts'))('Redis killed and restarted under load', () => {
  let cluster: Cluster;
  let replicas: Replica[];

  beforeAll(async () => {
    cluster = await startCluster({ replicas: 3 });
    replicas = cluster.replicas;
  }, 30_000);
  afterAll(() => cluster?.close());

  /** An organization of `size` admins, and the first one's token. */
  function team(size: number) {
    const seeded = seedTeam(cluster.emulator, { name: 'Outage', admins: size });
    return { id: seeded.organizationId, token: seeded.admin.token };
  }

  const everyReplica = (check: (replica: Replica) => Promise<boolean>) => () =>
    Promise.all(replicas.map(check)).then((answers) => answers.every(Boolean));

  it('no query fails, the caches are invalidated once on reconnect, and the bus works again', async () => {
    // Cold organizations keep the load on Redis's paths (copies, leases), not only on local hits.
    const teams = Array.from({ length: 60 }, () => team(2));
    const failures: unknown[] = [];
    let completed = 0;
    let stop = false;
    const worker = async (offset: number) => {
      for (let index = offset; !stop; index += 4) {
        const t = teams[index % teams.length] as (typeof teams)[number];
        const replica = replicas[index % replicas.length] as Replica;
        try {
          const result = await replica.query(TeamPage, { token: t.token, variables: { id: t.id, limit: 5 } });
          if (result.status !== 200 || result.errors) failures.push(result.errors ?? result.status);
        } catch (error) {
          failures.push(error);
        }
        completed++;
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(worker));
    const reconnects = await Promise.all(
      replicas.map((r) => r.metric('redis_reconnect_invalidations_total')),
    );

    await until(() => completed > 100);
    await cluster.redis.stop();
    await until(everyReplica(async (r) => (await r.metric('redis_up')) === 0));
    const atOutage = completed;
    await until(() => completed > atOutage + 200);
    // A webhook during the outage is still answered, and applied where it landed.
    const during = teams[0] as (typeof teams)[number];
    const user = cluster.emulator.store.createUser({
      emailAddress: `o-${randomBytes(3).toString('hex')}@x.test`,
    });
    await cluster.clerk.organizations.createOrganizationMembership({
      organizationId: during.id,
      userId: user.id,
      role: 'org:member',
    });
    await cluster.emulator.control.webhooksSettled();
    const onA = await (replicas[0] as Replica).query(TeamPage, {
      token: during.token,
      variables: { id: during.id },
    });
    expect(onA.data?.organization.members.totalCount).toBe(3);

    await cluster.redis.restart();
    await until(everyReplica(async (r) => (await r.metric('redis_up')) === 1));
    const atReturn = completed;
    await until(() => completed > atReturn + 100);
    stop = true;
    await load;

    expect(failures).toEqual([]);
    const after = await Promise.all(replicas.map((r) => r.metric('redis_reconnect_invalidations_total')));
    expect(after.map((count, index) => count - (reconnects[index] as number))).toEqual([1, 1, 1]);
    // The change made during the outage is served everywhere (B and C dropped their caches on reconnect).
    for (const replica of replicas) {
      const page = await replica.query(TeamPage, { token: during.token, variables: { id: during.id } });
      expect(page.data?.organization.members.totalCount, replica.name).toBe(3);
    }

    // A new webhook reaches every replica again.
    const t = teams[1] as (typeof teams)[number];
    for (const replica of replicas)
      await replica.query(TeamPage, { token: t.token, variables: { id: t.id } });
    const heard = await Promise.all(
      replicas.map((r) => r.metric('redis_bus_messages_total', { direction: 'in', type: 'effects' })),
    );
    const added = cluster.emulator.store.createUser({
      emailAddress: `n-${randomBytes(3).toString('hex')}@x.test`,
    });
    await cluster.clerk.organizations.createOrganizationMembership({
      organizationId: t.id,
      userId: added.id,
      role: 'org:member',
    });
    await cluster.emulator.control.webhooksSettled();
    await Promise.all(
      replicas
        .slice(1)
        .map((r, index) =>
          until(
            async () =>
              (await r.metric('redis_bus_messages_total', { direction: 'in', type: 'effects' })) >
              (heard[index + 1] as number),
          ),
        ),
    );
    for (const replica of replicas) {
      const page = await replica.query(TeamPage, { token: t.token, variables: { id: t.id } });
      expect(page.data?.organization.members.totalCount, replica.name).toBe(3);
    }
  }, 60_000);

  it('a Redis that stops answering costs each query a bounded wait: all are answered before Redis answers again', async () => {
    const teams = Array.from({ length: 12 }, () => team(2));
    const failures = await Promise.all(replicas.map((r) => r.metric('redis_failures_total')));
    const reconnects = await Promise.all(
      replicas.map((r) => r.metric('redis_reconnect_invalidations_total')),
    );
    const pauser = new Redis(cluster.redis.url);
    try {
      // Every client's commands wait, sockets open: only REDIS_TIMEOUT_MS can end a replica's wait.
      await pauser.call('CLIENT', 'PAUSE', '5000', 'ALL');
      // Answered once Redis answers again (the pause ends): the queries must all be answered before that.
      const redisAnswers = pauser.ping().then(() => 'redis' as const);
      const queries = Promise.all(
        teams.map((t, index) =>
          (replicas[index % replicas.length] as Replica).query(TeamPage, {
            token: t.token,
            variables: { id: t.id },
          }),
        ),
      );
      expect(await Promise.race([queries.then(() => 'queries' as const), redisAnswers])).toBe('queries');
      const results = await queries;
      expect(
        results.filter((result) => result.errors || result.data?.organization.members.totalCount !== 2),
      ).toEqual([]);
      await redisAnswers;
    } finally {
      pauser.disconnect();
    }
    const after = await Promise.all(replicas.map((r) => r.metric('redis_failures_total')));
    // The replicas went on without Redis, and counted the steps that timed out.
    expect(after.reduce((sum, n) => sum + n, 0)).toBeGreaterThan(failures.reduce((sum, n) => sum + n, 0));
    // Silent for longer than two heartbeats: each replica reconnected its bus and dropped its cache (and is done
    // with it before the next test counts reconnects).
    await until(
      everyReplica(
        async (r) =>
          (await r.metric('redis_up')) === 1 &&
          (await r.metric('redis_reconnect_invalidations_total')) >
            (reconnects[replicas.indexOf(r)] as number),
      ),
    );
  }, 20_000);
});
