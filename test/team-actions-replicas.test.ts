/**
 * Team actions over two replicas sharing a real Redis, with Clerk's webhooks held back the whole time: a write on A
 * is served by B from its cache (0 Clerk reads), a member removed on A is refused by B, and a live subscriber on B
 * hears of it, all before any webhook. Concurrent writes on both replicas are serialized by the Redis lease.
 * Live events wait for no debounce (WEBHOOK_REFRESH_DEBOUNCE_MS is an hour here): an action's event is sent at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveTeam } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { subscribe } from './helpers/live.js';
import { redisAvailable } from './helpers/redis.js';
import { type Cluster, type Replica, startCluster, until } from './helpers/replicas.js';

const TEAM = `query Team($id: ID!) { organization(id: $id) { members(limit: 100) {
  fromCache totalCount members { userId role } } } }`;
const REMOVE = `mutation Remove($org: ID!, $user: ID!) {
  removeMember(organizationId: $org, userId: $user) { organization { id } } }`;
const UPDATE_ROLE = `mutation Role($org: ID!, $user: ID!, $role: String!) {
  updateMemberRole(organizationId: $org, userId: $user, role: $role) { organization { id } } }`;

interface TeamData {
  organization: {
    members: { fromCache: boolean; totalCount: number; members: { userId: string; role: string }[] };
  };
}
type Vars = Record<string, unknown>;
const codeOf = (response: { errors?: { extensions?: Record<string, unknown> }[] }) =>
  response.errors?.[0]?.extensions?.code;

describe.skipIf(!redisAvailable('team-actions-replicas.test.ts'))('team actions on two replicas', () => {
  let cluster: Cluster;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    cluster = await startCluster({ replicas: 2, config: { webhookRefreshDebounceMs: 3_600_000 } });
    [a, b] = cluster.replicas as [Replica, Replica];
    cluster.emulator.control.setWebhookDelivery({ delayMs: 10 * 60_000 });
  }, 30_000);
  afterAll(() => cluster?.close());

  const effectsHeard = (replica: Replica) =>
    replica.metric('redis_bus_messages_total', { direction: 'in', type: 'effects' });
  const ask = <T>(replica: Replica, document: string, token: string, variables: Vars) =>
    replica.query<T, Vars>(document, { token, variables });
  const clerkReadsSince = (since: number, organizationId: string) =>
    cluster.emulator.control
      .requestLog()
      .filter((entry) => entry.at >= since && entry.method === 'GET' && entry.path.includes(organizationId))
      .length;

  it('a member removed on A: B serves the change from its cache, refuses them, and its live subscriber hears it', async () => {
    const team = seedTeam(cluster.emulator, { admins: 1, members: 2 });
    const [removed, reader] = team.members;
    if (!removed || !reader) throw new Error('seed');
    const org = team.organizationId;
    for (const replica of [a, b]) {
      expect((await ask(replica, TEAM, reader.token, { id: org })).errors).toBeUndefined();
      expect((await ask(replica, TEAM, removed.token, { id: org })).errors).toBeUndefined();
    }
    const live = subscribe(b.url, reader.token, LiveTeam, { id: org });
    try {
      expect((await live.next()).data?.teamChanged.reasons).toEqual(['INITIAL']);
      const heard = await effectsHeard(b);

      const answer = await ask(a, REMOVE, team.admin.token, { org, user: removed.userId });
      expect(answer.errors).toBeUndefined();
      // A published before answering; B applies what it hears (its own bus counter says when).
      await until(async () => (await effectsHeard(b)) > heard);

      const since = Date.now();
      const seen = await ask<TeamData>(b, TEAM, reader.token, { id: org });
      expect(seen.data?.organization.members.fromCache).toBe(true);
      expect(seen.data?.organization.members.members.map((m) => m.userId)).not.toContain(removed.userId);
      expect(clerkReadsSince(since, org)).toBe(0);
      expect(codeOf(await ask(b, TEAM, removed.token, { id: org }))).toBe('FORBIDDEN');

      const event = await live.next();
      expect(event.data?.teamChanged.reasons).toEqual(['MEMBER_REMOVED']);
      expect(event.data?.teamChanged.members.members.map((m) => m.userId)).not.toContain(removed.userId);
      // No webhook was delivered meanwhile.
      expect(cluster.emulator.control.deliveries().filter((d) => d.status !== undefined)).toEqual([]);
    } finally {
      live.dispose();
    }
  });

  it('two admins demoting each other on two replicas at once: one succeeds, the other is refused, an admin remains', async () => {
    const team = seedTeam(cluster.emulator, { admins: 2 });
    const [one, two] = team.admins;
    if (!one || !two) throw new Error('seed');
    const org = team.organizationId;
    const answers = await Promise.all([
      ask(a, UPDATE_ROLE, one.token, { org, user: two.userId, role: 'org:member' }),
      ask(b, UPDATE_ROLE, two.token, { org, user: one.userId, role: 'org:member' }),
    ]);
    // Refused whichever way: by the guard on the second replica, or by Clerk (LAST_ADMIN) had the lease failed.
    expect(answers.filter((answer) => answer.errors === undefined)).toHaveLength(1);
    const clerkRoster = await cluster.clerk.organizations.getOrganizationMembershipList({
      organizationId: org,
    });
    expect(clerkRoster.data.filter((membership) => membership.role === 'org:admin')).toHaveLength(1);
    // The second ran after the first (the lease), so it was decided from the cache: only one Clerk write.
    const writes = cluster.emulator.control
      .requestLog()
      .filter((entry) => entry.method === 'PATCH' && entry.path.includes(org));
    expect(writes).toHaveLength(1);
  });
});

describe.skipIf(!redisAvailable('team-actions-replicas.test.ts (Redis silent)'))(
  'team actions while Redis is silent (SIGSTOP)',
  () => {
    let cluster: Cluster;
    let a: Replica;
    let b: Replica;

    beforeAll(async () => {
      cluster = await startCluster({
        replicas: 2,
        config: { redisHeartbeatMs: 100, redisOutageEvidenceMs: 1, redisTimeoutMs: 300 },
      });
      [a, b] = cluster.replicas as [Replica, Replica];
      cluster.emulator.control.setWebhookDelivery({ delayMs: 10 * 60_000 });
    }, 30_000);
    afterAll(() => cluster?.close());

    const ask = (replica: Replica, document: string, token: string, variables: Vars) =>
      replica.query<unknown, Vars>(document, { token, variables });

    it('a removal on A still happens (no lease, Clerk still checks), and the removed member is refused on A and B', async () => {
      const team = seedTeam(cluster.emulator, { admins: 1, members: 2 });
      const [removed] = team.members;
      if (!removed) throw new Error('seed');
      const org = team.organizationId;
      for (const replica of [a, b]) {
        expect((await ask(replica, TEAM, removed.token, { id: org })).errors).toBeUndefined();
      }
      const pid = cluster.redis.pid;
      process.kill(pid, 'SIGSTOP');
      try {
        const answer = await ask(a, REMOVE, team.admin.token, { org, user: removed.userId });
        expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
        const clerkRoster = await cluster.clerk.organizations.getOrganizationMembershipList({
          organizationId: org,
        });
        expect(clerkRoster.data.map((m) => m.publicUserData?.userId)).not.toContain(removed.userId);
        // A recorded the removal itself; B, which hears nothing, distrusts what it holds once it notices the silence.
        expect(codeOf(await ask(a, TEAM, removed.token, { id: org }))).toBe('FORBIDDEN');
        await until(async () => codeOf(await ask(b, TEAM, removed.token, { id: org })) !== undefined);
        expect(codeOf(await ask(b, TEAM, removed.token, { id: org }))).toMatch(
          /FORBIDDEN|UPSTREAM_UNAVAILABLE/,
        );
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    });
  },
);
