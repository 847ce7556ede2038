/**
 * Several replicas, one truth (issue 11): three replicas of the real server share one real Redis and one Clerk
 * emulator, whose webhooks go to replica A only (as Clerk sends each webhook to one endpoint). Over HTTP: a change
 * announced to A is served by B and C, a removed member is refused everywhere, a herd of cold queries over the three
 * makes one Clerk read sequence, a new replica starts warm from Redis, a webhook retried to another replica is
 * processed once.
 *
 * Cross-replica state travels through Redis, so "B has heard it" cannot be awaited as an event of this process; the
 * suites wait for B's own bus counter (`redis_bus_messages_total`) to move, then make the one query that must show
 * the change.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../src/observability/logger.js';
import { LiveTeam, TeamPage } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { subscribe } from './helpers/live.js';
import { redisAvailable } from './helpers/redis.js';
import { type Cluster, type Replica, startCluster, until } from './helpers/replicas.js';

const MEMBERSHIPS = '/v1/organizations/{id}/memberships';
const HOUR_S = 3600;

/** A silent logger that keeps the warnings (the replicas' view of what they refused). */
function recordingLogger(into: string[]): Logger {
  const quiet = () => {};
  return {
    enabled: () => false,
    debug: quiet,
    info: quiet,
    warn: (message) => into.push(message),
    error: (message) => into.push(message),
  };
}

describe.skipIf(!redisAvailable('replicas.test.ts'))('three replicas sharing Redis', () => {
  let cluster: Cluster;
  const warnings: string[] = [];
  let a: Replica;
  let b: Replica;
  let c: Replica;

  beforeAll(async () => {
    cluster = await startCluster({ replicas: 3, logger: recordingLogger(warnings) });
    [a, b, c] = cluster.replicas as [Replica, Replica, Replica];
  }, 30_000);
  afterAll(() => cluster?.close());

  /** An admin and `size - 1` members. */
  function team(name: string, size: number) {
    const seeded = seedTeam(cluster.emulator, { name, members: size - 1 });
    return {
      id: seeded.organizationId,
      adminId: seeded.admin.userId,
      adminToken: seeded.admin.token,
      memberIds: seeded.memberIds,
      token: (userId: string) => seeded.tokenFor(userId),
    };
  }

  /** Resolves once `replica` has applied `count` more webhook effects from the bus than it had at `before`. */
  const heardEffects = (replica: Replica, before: number, count = 1) =>
    until(
      async () =>
        (await replica.metric('redis_bus_messages_total', { direction: 'in', type: 'effects' })) >=
        before + count,
    );
  const effectsHeard = (replica: Replica) =>
    replica.metric('redis_bus_messages_total', { direction: 'in', type: 'effects' });

  it('a webhook to A only: B and C serve the change on their next query, and refuse the removed member', async () => {
    const t = team('Bus Co', 4);
    const removed = t.memberIds[0] as string;
    // Every replica holds the team, and has admitted the member about to be removed.
    for (const replica of [a, b, c]) {
      expect(
        (await replica.query(TeamPage, { token: t.adminToken, variables: { id: t.id } })).data?.organization
          .members.totalCount,
      ).toBe(4);
      expect(
        (await replica.query(TeamPage, { token: t.token(removed), variables: { id: t.id } })).errors,
      ).toBeUndefined();
    }
    const heard = await Promise.all([b, c].map(effectsHeard));

    await cluster.clerk.organizations.deleteOrganizationMembership({ organizationId: t.id, userId: removed });
    await cluster.emulator.control.webhooksSettled();
    await Promise.all([b, c].map((replica, index) => heardEffects(replica, heard[index] as number)));

    for (const replica of [a, b, c]) {
      const page = await replica.query(TeamPage, { token: t.adminToken, variables: { id: t.id } });
      expect(page.data?.organization.members.totalCount, replica.name).toBe(3);
      expect(page.data?.organization.members.members.map((m) => m.userId)).not.toContain(removed);
      const refused = await replica.query(TeamPage, { token: t.token(removed), variables: { id: t.id } });
      expect(
        refused.errors?.map((error) => error.extensions?.code),
        replica.name,
      ).toEqual(['FORBIDDEN']);
    }
  });

  it('300 concurrent cold queries for one organization over the three replicas make one Clerk read sequence', async () => {
    const t = team('Herd Co', 1200); // three pages of 500
    cluster.emulator.control.setLatency({ fixedMs: 50 });
    try {
      const replicas = [a, b, c];
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, index) =>
          (replicas[index % 3] as Replica).query(TeamPage, {
            token: t.adminToken,
            variables: { id: t.id, limit: 5 },
          }),
        ),
      );
      expect(results.filter((result) => result.data?.organization.members.totalCount !== 1200)).toEqual([]);
      const reads = cluster.emulator.control
        .requestLog()
        .filter((entry) => entry.path === MEMBERSHIPS.replace('{id}', t.id));
      expect(reads.map((entry) => entry.query.offset ?? '0').sort()).toEqual(['0', '1000', '500']);
    } finally {
      cluster.emulator.control.setLatency({ fixedMs: 0 });
    }
  });

  it('a replica started after the others are warm answers its first query from Redis, without calling Clerk', async () => {
    const t = team('Warm Co', 5);
    cluster.emulator.store.addInvitation(t.id, { emailAddress: 'new.hire@warm.test' });
    const onA = await a.query(TeamPage, {
      token: t.adminToken,
      variables: { id: t.id, includePending: true },
    });
    const startedAt = Date.now();
    const d = await cluster.addReplica('D');
    await until(async () => (await d.metric('redis_up')) === 1);
    cluster.emulator.control.resetCounters();

    const first = await d.query(TeamPage, {
      token: t.adminToken,
      variables: { id: t.id, includePending: true },
    });

    expect(first.data?.organization.members).toMatchObject({ totalCount: 5, fromCache: true });
    expect(cluster.emulator.control.counters()).toEqual({});
    // The same team, field for field, through the compact encoding.
    expect(first.data?.organization.members.members).toEqual(onA.data?.organization.members.members);
    expect(first.data?.organization.members.pendingInvitations).toEqual(
      onA.data?.organization.members.pendingInvitations,
    );
    expect(first.data?.organization.members.pendingInvitations).toHaveLength(1);
    // Dated by A's Clerk read, before D even existed: the TTL runs from there.
    expect(Date.parse(first.data?.organization.members.cachedAt as string)).toBeLessThan(startedAt);
  });

  it('the same svix-id delivered to A and to B is processed once', async () => {
    const t = team('Dedupe Co', 2);
    const messageId = `msg_${randomBytes(8).toString('hex')}`;
    const event = {
      organization: { id: t.id },
      public_user_data: { user_id: t.memberIds[0] },
      role: 'org:member',
    };
    const answers = await Promise.all([
      a.deliver('organizationMembership.updated', event, messageId),
      b.deliver('organizationMembership.updated', event, messageId),
    ]);
    // The other is a duplicate, or (arriving while the first was being published) told to come back: a 503, after
    // which it is a duplicate. Never two 2xx before the effects are on the bus, never processed twice.
    const other = answers.find((answer) => (answer.body as { status?: string }).status !== 'processed');
    expect(
      answers.filter((answer) => (answer.body as { status?: string }).status === 'processed'),
    ).toHaveLength(1);
    if (other?.status === 503) {
      expect((await b.deliver('organizationMembership.updated', event, messageId)).body).toEqual({
        status: 'duplicate',
      });
    } else expect(other?.body).toEqual({ status: 'duplicate' });
  });

  it('a forged delivery cannot claim a svix-id: the genuine one with that id is still processed', async () => {
    const t = team('Forged Co', 2);
    const messageId = `msg_${randomBytes(8).toString('hex')}`;
    const forged = await fetch(`${b.url}/webhooks/clerk`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'svix-id': messageId,
        'svix-timestamp': '1',
        'svix-signature': 'v1,AAAA',
      },
      body: '{}',
    });
    expect(forged.status).toBe(400);
    const genuine = await a.deliver('organization.updated', { id: t.id }, messageId);
    expect(genuine.body).toEqual({ status: 'processed' });
  });

  it('a copy in Redis that is not in our format is a miss, read from Clerk', async () => {
    const t = team('Garbage Co', 3);
    const redis = new Redis(cluster.redis.url);
    try {
      await redis.set(
        `${cluster.keyPrefix}copy:members:${t.id}`,
        // Our envelope, fresh, but a member whose fields are not strings: it must not be served.
        JSON.stringify([
          1,
          Date.now(),
          Date.now(),
          [null, [['orgmem_x', t.adminId, 3, 4, 5, 6, 'org:admin', 7]]],
        ]),
      );
      await redis.set(`${cluster.keyPrefix}copy:user_memberships:${t.adminId}`, 'not json');
    } finally {
      redis.disconnect();
    }
    const page = await c.query(TeamPage, { token: t.adminToken, variables: { id: t.id } });
    expect(page.data?.organization.members).toMatchObject({ totalCount: 3, fromCache: false });
  });

  it('a subscriber on C hears a change whose webhook went to A (issue 12)', async () => {
    const t = team('Live Co', 3);
    const live = subscribe(c.url, t.adminToken, LiveTeam, { id: t.id, limit: 100, includePending: false });
    try {
      const initial = await live.next();
      expect(initial.data?.teamChanged).toMatchObject({ reasons: ['INITIAL'], members: { totalCount: 3 } });
      const user = cluster.emulator.store.createUser({
        emailAddress: `live-${randomBytes(3).toString('hex')}@x.test`,
      });
      await cluster.clerk.organizations.createOrganizationMembership({
        organizationId: t.id,
        userId: user.id,
        role: 'org:member',
      });

      const change = await live.next();

      expect(change.errors).toBeUndefined();
      expect(change.data?.teamChanged.reasons).toEqual(['MEMBER_ADDED']);
      expect(change.data?.teamChanged.members.totalCount).toBe(4);
      expect(change.data?.teamChanged.members.members.map((member) => member.userId)).toContain(user.id);
    } finally {
      live.dispose();
    }
  });

  /** Adds a member through the Clerk API (its webhook goes to A) and waits until A has answered it. */
  async function addMember(organizationId: string) {
    const user = cluster.emulator.store.createUser({
      emailAddress: `m-${randomBytes(3).toString('hex')}@x.test`,
    });
    await cluster.clerk.organizations.createOrganizationMembership({
      organizationId,
      userId: user.id,
      role: 'org:member',
    });
    await cluster.emulator.control.webhooksSettled();
  }
  const totalOn = async (replica: Replica, t: ReturnType<typeof team>) =>
    (await replica.query(TeamPage, { token: t.adminToken, variables: { id: t.id } })).data?.organization
      .members.totalCount;

  it('a replica whose bus connection dropped while a webhook was published drops its cache when it reconnects', async () => {
    const t = team('Blip Co', 3);
    for (const replica of [a, b, c]) await totalOn(replica, t);
    const before = await b.metric('redis_reconnect_invalidations_total');
    const subscriber = b.app.shared?.connection.subscriber;
    subscriber?.disconnect();
    await until(async () => (await b.metric('redis_up')) === 0);

    await addMember(t.id);
    expect(await totalOn(b, t)).toBe(3); // it missed the message: its own cache still says 3

    await subscriber?.connect();
    await until(async () => (await b.metric('redis_reconnect_invalidations_total')) === before + 1);
    expect(await totalOn(b, t)).toBe(4);
  });

  it('a replica that hears nothing on a connection that looks fine reconnects after two heartbeats', async () => {
    const t = team('Silent Co', 3);
    for (const replica of [a, b, c]) await totalOn(replica, t);
    const before = await c.metric('redis_reconnect_invalidations_total');
    // Deaf but "ready": what a half-open socket looks like from the inside.
    await c.app.shared?.connection.subscriber.unsubscribe();
    await addMember(t.id);
    expect(await totalOn(c, t)).toBe(3);

    await until(async () => (await c.metric('redis_reconnect_invalidations_total')) === before + 1);
    expect(await totalOn(c, t)).toBe(4);
  });

  it('a webhook drops the shared copies it makes stale: another replica never reads the old one from Redis', async () => {
    const first = team('Copy One Co', 2);
    const second = team('Copy Two Co', 2);
    const userId = first.memberIds[0] as string;
    // No active-organization claim: authorization reads the user's own membership list (and A shares it in Redis).
    const token = cluster.emulator.mintToken({ userId, expiresInS: HOUR_S });
    expect((await a.query(TeamPage, { token, variables: { id: first.id } })).errors).toBeUndefined();
    expect(
      (await a.query(TeamPage, { token, variables: { id: second.id } })).errors?.[0]?.extensions?.code,
    ).toBe('FORBIDDEN');

    await cluster.clerk.organizations.createOrganizationMembership({
      organizationId: second.id,
      userId,
      role: 'org:member',
    });
    await cluster.emulator.control.webhooksSettled();

    // B never held the list: without the drop it would take A's old copy from Redis and refuse the user.
    const onB = await b.query(TeamPage, { token, variables: { id: second.id } });
    expect(onB.errors).toBeUndefined();
    expect(onB.data?.organization.members.totalCount).toBe(3);
  });

  it('garbage published on the bus crashes nothing, and the next real message is still applied', async () => {
    const t = team('Garbage Bus Co', 3);
    for (const replica of [a, b, c]) await totalOn(replica, t);
    const ignoredBefore = warnings.filter((warning) =>
      warning.startsWith('ignored a malformed message'),
    ).length;
    const redis = new Redis(cluster.redis.url);
    try {
      for (const text of [
        'not json',
        'null',
        '{"t":"effects","from":"x"}',
        '{"t":"effects","from":"x","touched":[],"effects":{"invalidations":{},"revocations":[]}}',
        '{"t":"effects","from":"x","touched":[],"effects":{"invalidations":[{"kind":"user"}],"revocations":[]}}',
        '{"t":"copy","from":"x","key":7}',
      ]) {
        await redis.publish(`${cluster.keyPrefix}bus`, text);
      }
    } finally {
      redis.disconnect();
    }
    // Each replica ignored the four that are not bus messages (the unparseable one silently; the well-shaped one
    // with a nonsense invalidation was applied, harmlessly).
    const ignored = () =>
      warnings.filter((warning) => warning.startsWith('ignored a malformed message')).length;
    await until(() => ignored() >= ignoredBefore + 4 * 3);
    const heard = await effectsHeard(c);
    await addMember(t.id);
    await heardEffects(c, heard);
    expect(await totalOn(c, t)).toBe(4);
  });

  it('one bus message with a malformed patch and a valid invalidation: the invalidation is still applied (issue 19)', async () => {
    const t = team('Mixed Bus Co', 3);
    for (const replica of [a, b, c]) await totalOn(replica, t);
    // A member added in Clerk with no webhook: only the invalidation below can make C read the roster again.
    const added = cluster.emulator.store.createUser({
      emailAddress: `m-${randomBytes(3).toString('hex')}@x.test`,
    });
    cluster.emulator.store.addMembership(t.id, added.id);
    const heard = await effectsHeard(c);
    const redis = new Redis(cluster.redis.url);
    try {
      // What a publisher does in the same MULTI: drop the shared copy the change makes stale.
      await redis.del(`${cluster.keyPrefix}copy:members:${t.id}`);
      await redis.publish(
        `${cluster.keyPrefix}bus`,
        JSON.stringify({
          t: 'effects',
          from: 'another-version',
          touched: [t.id],
          effects: {
            revocations: [],
            // Patches no replica of this version can apply, before the valid invalidation.
            patches: [
              null,
              { delta: { kind: 'memberUpsert', organizationId: t.id }, reason: 'MEMBER_ADDED' },
            ],
            invalidations: [{ kind: 'organization', organizationId: t.id, reason: 'MEMBER_ADDED' }],
          },
        }),
      );
    } finally {
      redis.disconnect();
    }
    await heardEffects(c, heard);
    expect(await totalOn(c, t)).toBe(4);
  });

  it('a replica started after a removal refuses the removed member, whose token still claims the organization', async () => {
    const t = team('Late Co', 3);
    const removed = t.memberIds[0] as string;
    // Issued before the removal, with the organization as its active one: on its own, a valid claim.
    const token = t.token(removed);
    await cluster.clerk.organizations.deleteOrganizationMembership({ organizationId: t.id, userId: removed });
    await cluster.emulator.control.webhooksSettled();

    const e = await cluster.addReplica('E');
    // E heard nothing of it on the bus: it reads the revocation records from Redis when it connects. The query asks
    // for the organization only, which the token's claim alone would grant (no roster is read).
    const organizationOnly = `{ organization(id: "${t.id}") { id } }`;
    await until(
      async () => (await e.query(organizationOnly, { token })).errors?.[0]?.extensions?.code === 'FORBIDDEN',
    );
  });

  it('a lease whose holder died (no renewal, no copy) expires, and a waiting replica takes over', async () => {
    const t = team('Orphan Co', 3);
    const redis = new Redis(cluster.redis.url);
    try {
      // What a replica killed in the middle of its Clerk read leaves behind: its lease, for at most its lifetime.
      await redis.set(`${cluster.keyPrefix}lease:members:${t.id}`, 'dead-holder', 'PX', 1000);
    } finally {
      redis.disconnect();
    }
    cluster.emulator.control.resetCounters();
    const page = await b.query(TeamPage, { token: t.adminToken, variables: { id: t.id } });
    expect(page.errors).toBeUndefined();
    expect(page.data?.organization.members.totalCount).toBe(3);
    expect(cluster.emulator.control.counters()[`GET ${MEMBERSHIPS}`]).toBe(1);
  });
});
