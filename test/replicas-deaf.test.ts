/**
 * A removal is enforced on every replica while Redis is paused, down or refusing us (issue 19, item 2). Three
 * replicas share one real redis-server; Clerk's webhooks go to replica A only.
 *
 * - Paused (`CLIENT PAUSE`, or the redis-server process stopped with SIGSTOP): A cannot tell the others, so it does
 *   not answer the removal's webhook 2xx (Clerk retries); B and C, once they have noticed the silence (awaited: their
 *   own health, never a sleep), count only evidence read from Clerk since, so every answer to the removed member is
 *   FORBIDDEN on every replica, while the other members are still served. Before: B and C served the removed member
 *   1,795 times in 10 s.
 * - Killed: the webhook is answered 503, its retry too (not swallowed as a duplicate), and once Redis is back the
 *   retry is processed; applied twice, nothing goes wrong.
 * - A wrong password (WRONGPASS) or none (NOAUTH): named in the log, `/readyz` 503 and `redis_up{reason="refused"} 0`
 *   until Redis accepts the replica, and the removed member is never served by it after the removal. Before: one
 *   warning that did not name the cause, ready, and 4,684 answers to the removed member in 8 s.
 *
 * Short heartbeats (100 ms) and `REDIS_OUTAGE_EVIDENCE_MS=1`: what a deaf replica read from Clerk before the removal
 * never counts after it, so the outcomes below do not depend on how fast the machine is.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../src/observability/logger.js';
import { refusalOf } from '../src/shared-state/connection.js';
import type { RedisDownReason } from '../src/shared-state/index.js';
import { TeamPage } from './documents.js';
import { seedTeam, type TeamPerson } from './helpers/fixtures.js';
import { redisAvailable } from './helpers/redis.js';
import { type Cluster, type Replica, startCluster, until } from './helpers/replicas.js';

const DEAF = { redisHeartbeatMs: 100, redisOutageEvidenceMs: 1 };

/** A silent logger that keeps each warning and error with its fields. */
function recordingLogger(
  into: { level: string; message: string; fields: Record<string, unknown> }[],
): Logger {
  const quiet = () => {};
  const keep =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      into.push({ level, message, fields });
  return { enabled: () => false, debug: quiet, info: quiet, warn: keep('warn'), error: keep('error') };
}

const reasonOf = (replica: Replica): RedisDownReason | undefined => replica.app.shared?.health().reason;

/** A team of an admin and two members, the first of whom a test removes; every token is issued before that. */
function teamIn(cluster: Cluster, name: string) {
  const team = seedTeam(cluster.emulator, { name, members: 2 });
  const [removed, stays] = team.members as [TeamPerson, TeamPerson];
  return {
    id: team.organizationId,
    removedId: removed.userId,
    membershipId: removed.membershipId,
    admin: team.admin.token,
    // Issued before the removal and naming the organization: on its own, a valid claim.
    removed: removed.token,
    stays: stays.token,
  };
}

/** Codes of the answers to the removed member: every one must be FORBIDDEN (anything else was served). */
/** Removes the member in Clerk and waits for its webhook's delivery attempts (retries included) to settle. */
async function removeAndSettle(cluster: Cluster, t: ReturnType<typeof teamIn>) {
  const deliveriesBefore = cluster.emulator.control.deliveries().length;
  await cluster.clerk.organizations.deleteOrganizationMembership({
    organizationId: t.id,
    userId: t.removedId,
  });
  await cluster.emulator.control.webhooksSettled();
  return cluster.emulator.control
    .deliveries()
    .slice(deliveriesBefore)
    .filter((attempt) => attempt.eventType === 'organizationMembership.deleted');
}

async function answersTo(replicas: Replica[], id: string, token: string, perReplica: number) {
  const results = await Promise.all(
    replicas.flatMap((replica) =>
      Array.from({ length: perReplica }, () => replica.query(TeamPage, { token, variables: { id } })),
    ),
  );
  return {
    served: results.filter((result) => !result.errors && result.data?.organization).length,
    codes: [...new Set(results.flatMap((result) => result.errors?.map((e) => e.extensions?.code) ?? []))],
  };
}

describe.skipIf(!redisAvailable('replicas-deaf.test.ts'))(
  'Redis paused or killed: removals still hold',
  () => {
    let cluster: Cluster;
    let replicas: Replica[];
    let a: Replica;

    beforeAll(async () => {
      cluster = await startCluster({ replicas: 3, config: DEAF });
      replicas = cluster.replicas;
      a = replicas[0] as Replica;
    }, 30_000);
    afterAll(() => cluster?.close());

    const allHealthy = () =>
      until(() => replicas.every((replica) => reasonOf(replica) === 'none')).catch((error: unknown) => {
        throw new Error(
          `${String(error)}: ${replicas.map((r) => `${r.name} ${reasonOf(r)} ${r.app.shared?.connection.command.status}/${r.app.shared?.connection.subscriber.status}`).join(', ')}`,
        );
      });

    /** Stops Redis answering (its sockets stay open); resolves with what makes it answer again. */
    async function pauseRedis(how: 'CLIENT PAUSE' | 'SIGSTOP'): Promise<() => Promise<void>> {
      if (how === 'SIGSTOP') {
        const pid = cluster.redis.pid;
        process.kill(pid, 'SIGSTOP');
        return async () => {
          process.kill(pid, 'SIGCONT');
        };
      }
      const pauser = new Redis(cluster.redis.url);
      // Paused clients cannot unpause (CLIENT UNPAUSE waits too): the pause ends on its own, long after the test's work.
      await pauser.call('CLIENT', 'PAUSE', '15000', 'ALL');
      return async () => {
        await pauser.ping(); // answered when the pause is over
        pauser.disconnect();
      };
    }

    it.each(['CLIENT PAUSE', 'SIGSTOP'] as const)(
      'Redis paused (%s): A does not answer 2xx, and no replica serves the removed member once it noticed the silence',
      async (how) => {
        const t = teamIn(cluster, `Paused ${how}`);
        // Every replica holds the roster and has admitted the member about to be removed (roster, token claim).
        for (const replica of replicas) {
          expect(
            (await replica.query(TeamPage, { token: t.admin, variables: { id: t.id } })).errors,
          ).toBeUndefined();
          expect(
            (await replica.query(TeamPage, { token: t.removed, variables: { id: t.id } })).errors,
          ).toBeUndefined();
        }
        const resume = await pauseRedis(how);
        let resumed = false;
        try {
          // Silent first; then each reconnects its bus (and may be waiting for that): either way, it is deaf.
          await until(() => replicas.every((replica) => replica.app.shared?.health().up === false));
          const attempts = await removeAndSettle(cluster, t);
          expect(attempts.length).toBeGreaterThan(0);
          // Effects that could not be published: never a 2xx, so Clerk keeps retrying.
          expect(attempts.filter((attempt) => attempt.status >= 200 && attempt.status < 300)).toEqual([]);

          const removed = await answersTo(replicas, t.id, t.removed, 10);
          expect(removed).toEqual({ served: 0, codes: ['FORBIDDEN'] });
          // Not an outage: a member is still served, from a membership list read from Clerk during the silence.
          for (const replica of replicas) {
            const page = await replica.query(TeamPage, { token: t.stays, variables: { id: t.id } });
            expect(page.errors, replica.name).toBeUndefined();
          }
          await resume();
          resumed = true;
        } finally {
          if (!resumed) await resume();
        }

        // The bus is back (each replica caught up: cache dropped, revocation records read): still refused everywhere.
        await allHealthy();
        expect(await answersTo(replicas, t.id, t.removed, 3)).toEqual({ served: 0, codes: ['FORBIDDEN'] });
        for (const replica of replicas) {
          const page = await replica.query(TeamPage, { token: t.admin, variables: { id: t.id } });
          expect(page.data?.organization.members.totalCount, replica.name).toBe(2);
        }
      },
      60_000,
    );

    it('Redis killed: the webhook is answered 503, its retry is processed (not a duplicate), and twice is harmless', async () => {
      const t = teamIn(cluster, 'Killed');
      for (const replica of replicas) {
        expect(
          (await replica.query(TeamPage, { token: t.removed, variables: { id: t.id } })).errors,
        ).toBeUndefined();
      }
      await cluster.redis.stop();
      await until(() => replicas.every((replica) => reasonOf(replica) === 'unreachable'));

      // The removal in Clerk: its webhook goes to A, which cannot tell the others, and Clerk retries it.
      const attempts = await removeAndSettle(cluster, t);
      // Every attempt, retries included, is a 503: a retry is not a "duplicate" of a delivery never published.
      expect(attempts.map((attempt) => attempt.status)).toEqual(attempts.map(() => 503));
      expect(attempts.length).toBeGreaterThan(1);
      expect(await answersTo(replicas, t.id, t.removed, 3)).toEqual({ served: 0, codes: ['FORBIDDEN'] });

      // Clerk's next retry, once Redis is back (the same svix-id, delivered by hand: the emulator has given up).
      const event = {
        id: t.membershipId,
        organization: { id: t.id },
        public_user_data: { user_id: t.removedId },
        role: 'org:member',
      };
      const deliver = () =>
        a.deliver('organizationMembership.deleted', event, (attempts[0] as { msgId: string }).msgId);
      await cluster.redis.restart();
      await allHealthy();
      expect(await deliver()).toEqual({ status: 200, body: { status: 'processed' } });
      expect(await deliver()).toEqual({ status: 200, body: { status: 'duplicate' } });
      expect(await answersTo(replicas, t.id, t.removed, 3)).toEqual({ served: 0, codes: ['FORBIDDEN'] });
      for (const replica of replicas) {
        const page = await replica.query(TeamPage, { token: t.admin, variables: { id: t.id } });
        expect(page.data?.organization.members.totalCount, replica.name).toBe(2);
      }
    }, 30_000);
  },
);

describe.skipIf(!redisAvailable('replicas-deaf.test.ts'))('Redis refuses a replica (password, ACL)', () => {
  let cluster: Cluster;
  const logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  let admin: Redis;

  beforeAll(async () => {
    cluster = await startCluster({ replicas: 2, config: DEAF, logger: recordingLogger(logs) });
    admin = new Redis(cluster.redis.url);
    // ACL users for the replicas under test (A and B stay on the default user): `app` may do everything, `limited`
    // may not use pub/sub.
    await admin.call('ACL', 'SETUSER', 'app', 'on', '>right-password', '~*', '&*', '+@all');
    await admin.call('ACL', 'SETUSER', 'limited', 'on', '>its-password', '~*', '&*', '+@all', '-@pubsub');
  }, 30_000);
  afterAll(async () => {
    admin?.disconnect();
    await cluster?.close();
  });

  const urlAs = (user: string, password: string) => {
    const url = new URL(cluster.redis.url);
    url.username = user;
    url.password = password;
    return url.toString();
  };
  const refusalsNaming = (reply: string) =>
    logs.filter((line) => line.level === 'error' && String(line.fields.reply ?? '').includes(reply));

  it('names the refusal (WRONGPASS, NOAUTH, NOPERM) in what it recognizes', () => {
    expect(
      refusalOf(new Error('WRONGPASS invalid username-password pair or user is disabled.')),
    ).toBeDefined();
    expect(refusalOf(new Error('Ready check failed: NOAUTH Authentication required.'))).toBeDefined();
    expect(
      refusalOf(new Error("NOPERM User limited has no permissions to run the 'subscribe' command")),
    ).toBeDefined();
    expect(refusalOf(new Error('connect ECONNREFUSED 127.0.0.1:6379'))).toBeUndefined();
  });

  it('a wrong password or a denying ACL: named in the log, not ready, redis_up 0 with the reason, and the removed member is never served', async () => {
    const wrong = await cluster.addReplica('W', { redisUrl: urlAs('app', 'wrong-password') });
    const denied = await cluster.addReplica('P', { redisUrl: urlAs('limited', 'its-password') });
    for (const replica of [wrong, denied]) await until(() => reasonOf(replica) === 'refused');
    // Once each, not once per reconnect attempt.
    expect(refusalsNaming('WRONGPASS').length).toBe(1);
    expect(refusalsNaming('NOPERM').length).toBeGreaterThanOrEqual(1);
    for (const replica of [wrong, denied]) {
      const ready = await fetch(`${replica.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'waiting for Redis', reason: 'refused' });
      expect(await (await fetch(`${replica.adminUrl}/metrics`)).text()).toMatch(
        /^redis_up\{reason="refused"\} 0$/m,
      );
    }

    const t = teamIn(cluster, 'Refused');
    // Admitted before the removal (from membership lists read from Clerk: a refused replica trusts nothing else).
    for (const replica of [wrong, denied]) {
      expect(
        (await replica.query(TeamPage, { token: t.admin, variables: { id: t.id } })).errors,
      ).toBeUndefined();
      expect(
        (await replica.query(TeamPage, { token: t.removed, variables: { id: t.id } })).errors,
      ).toBeUndefined();
    }
    await cluster.clerk.organizations.deleteOrganizationMembership({
      organizationId: t.id,
      userId: t.removedId,
    });
    await cluster.emulator.control.webhooksSettled();
    expect(await answersTo([wrong, denied], t.id, t.removed, 10)).toEqual({
      served: 0,
      codes: ['FORBIDDEN'],
    });

    // The operator fixes it (here: Redis takes the password W was given): W is accepted, ready, and still refuses.
    await admin.call('ACL', 'SETUSER', 'app', '>wrong-password');
    await until(() => reasonOf(wrong) === 'none');
    expect((await fetch(`${wrong.url}/readyz`)).status).toBe(200);
    expect(await answersTo([wrong], t.id, t.removed, 3)).toEqual({ served: 0, codes: ['FORBIDDEN'] });
    expect((await wrong.query(TeamPage, { token: t.stays, variables: { id: t.id } })).errors).toBeUndefined();
  }, 30_000);
});
