/** organization(id).members over real HTTP against the emulator: contract fields, slices, cache behaviour. */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TeamPage } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';
const INVITATIONS = 'GET /v1/organizations/{id}/invitations';

let h: Harness;
beforeAll(async () => {
  // Clerk's answers pass through a gate, so a test can hold one on its way back to the server.
  h = await startHarness({ gateClerk: true });
});
afterAll(() => h.close());
afterEach(() => {
  vi.useRealTimers();
});

function demo() {
  const fixture = h.emulator.demo;
  if (!fixture) throw new Error('the harness starts the demo seed');
  return fixture;
}

/** A token for an admin of acme, with acme active. */
function acmeToken() {
  const { acme } = demo();
  return h.emulator.mintToken({ userId: acme.adminUserIds[0] as string, orgId: acme.organizationId });
}

describe('organization.members', () => {
  it('returns every contract field, mapped from Clerk, in Clerk order (newest first)', async () => {
    const { acme } = demo();
    const result = await h.query(TeamPage, {
      token: acmeToken(),
      variables: { id: acme.organizationId, includePending: true, forceRefresh: true },
    });
    expect(result.errors).toBeUndefined();
    const page = result.data?.organization.members;
    expect(page?.organizationId).toBe(acme.organizationId);
    expect(page?.totalCount).toBe(acme.adminUserIds.length + acme.memberUserIds.length);

    const clerkMemberships = h.emulator.store.listMemberships(acme.organizationId);
    const newestFirst = [...clerkMemberships].sort((a, b) => b.createdAt - a.createdAt);
    expect(page?.members.map((member) => member.membershipId)).toEqual(newestFirst.map((m) => m.id));
    for (const member of page?.members ?? []) {
      const membership = clerkMemberships.find((m) => m.id === member.membershipId);
      const user = h.emulator.store.getUser(member.userId);
      expect(membership?.userId).toBe(member.userId);
      expect(member).toEqual({
        membershipId: membership?.id,
        userId: user?.id,
        firstName: user?.firstName ?? null,
        lastName: user?.lastName ?? null,
        email: user?.emailAddress,
        imageUrl: user?.imageUrl,
        role: membership?.role,
        createdAt: new Date(membership?.createdAt ?? 0).toISOString(),
      });
    }
    expect(new Set(page?.members.map((member) => member.role))).toEqual(new Set(['org:admin', 'org:member']));
    expect(page?.pendingInvitations?.map((invitation) => invitation.id).sort()).toEqual(
      [...acme.pendingInvitationIds].sort(),
    );
    expect(page?.pendingInvitations?.every((invitation) => invitation.status === 'pending')).toBe(true);
    expect(Number.isNaN(Date.parse(page?.cachedAt ?? ''))).toBe(false);
  });

  it('slices one snapshot: first, middle, last and past-the-end pages of the 2,500-member organization', async () => {
    const { initech } = demo();
    const adminOfInitech = h.emulator.store.listMemberships(initech.organizationId)[0]?.userId as string;
    const token = h.emulator.mintToken({ userId: adminOfInitech });
    const all = await h.query(TeamPage, {
      token,
      variables: { id: initech.organizationId, limit: 500, offset: 0 },
    });
    expect(all.data?.organization.members.totalCount).toBe(2500);
    const everyone: string[] = [];
    for (let offset = 0; offset < 2500; offset += 500) {
      const page = await h.query(TeamPage, {
        token,
        variables: { id: initech.organizationId, limit: 500, offset },
      });
      everyone.push(...(page.data?.organization.members.members.map((member) => member.userId) ?? []));
    }
    expect(everyone).toHaveLength(2500);
    expect(new Set(everyone).size).toBe(2500);

    const slice = async (limit: number, offset: number) =>
      (
        await h.query(TeamPage, { token, variables: { id: initech.organizationId, limit, offset } })
      ).data?.organization.members.members.map((member) => member.userId);
    expect(await slice(20, 0)).toEqual(everyone.slice(0, 20));
    expect(await slice(7, 1234)).toEqual(everyone.slice(1234, 1241));
    expect(await slice(10, 2495)).toEqual(everyone.slice(2495));
    expect(await slice(10, 2500)).toEqual([]);
    expect(await slice(10, 9999)).toEqual([]);
  });

  it('defaults to limit 20, offset 0 and no invitations', async () => {
    const { initech } = demo();
    const userId = h.emulator.store.listMemberships(initech.organizationId)[0]?.userId as string;
    const result = await h.query(
      `query { organization(id: "${initech.organizationId}") { members { totalCount members { userId } pendingInvitations { id } } } }`,
      { token: h.emulator.mintToken({ userId }) },
    );
    const page = (
      result.data as { organization: { members: { members: unknown[]; pendingInvitations: unknown } } }
    ).organization.members;
    expect(page.members).toHaveLength(20);
    expect(page.pendingInvitations).toBeNull();
  });

  it('includePending: false never reads invitations from Clerk; true does, once', async () => {
    const { organizationId: id, admin } = seedTeam(h.emulator, {
      name: 'Pending Co',
      admins: 3,
      invitations: ['new.hire@pending.test'],
    });
    const token = admin.token;
    h.emulator.control.resetCounters();

    const without = await h.query(TeamPage, { token, variables: { id, includePending: false } });
    expect(without.data?.organization.members.pendingInvitations).toBeNull();
    expect(h.emulator.control.counters()[INVITATIONS] ?? 0).toBe(0);

    const withPending = await h.query(TeamPage, { token, variables: { id, includePending: true } });
    expect(
      withPending.data?.organization.members.pendingInvitations?.map((invitation) => invitation.email),
    ).toEqual(['new.hire@pending.test']);
    expect(withPending.data?.organization.members.fromCache).toBe(false);
    await h.query(TeamPage, { token, variables: { id, includePending: true } });
    expect(h.emulator.control.counters()[INVITATIONS]).toBe(1);
    // This organization's roster reads: another test's roster may still be read in the background.
    const rosterReads = h.emulator.control
      .requestLog()
      .filter((entry) => entry.route === MEMBERSHIPS && entry.path.includes(id));
    expect(rosterReads).toHaveLength(1);
  });

  it('fromCache is false on a miss and true on the next query, with the same cachedAt', async () => {
    const { organizationId: id, members } = seedTeam(h.emulator, { name: 'Cache Co', admins: 0, members: 2 });
    const token = members[0]?.token;
    const miss = await h.query(TeamPage, { token, variables: { id } });
    const hit = await h.query(TeamPage, { token, variables: { id } });
    expect(miss.data?.organization.members.fromCache).toBe(false);
    expect(hit.data?.organization.members.fromCache).toBe(true);
    expect(hit.data?.organization.members.cachedAt).toBe(miss.data?.organization.members.cachedAt);
  });

  it('forceRefresh reads Clerk again and shows changes made behind the cache', async () => {
    const { organizationId: id, members } = seedTeam(h.emulator, {
      name: 'Refresh Co',
      admins: 0,
      members: 1,
    });
    const token = members[0]?.token;
    await h.query(TeamPage, { token, variables: { id } });
    h.emulator.store.populate(id, 1); // no webhook: only a forced read can see it
    const cached = await h.query(TeamPage, { token, variables: { id } });
    expect(cached.data?.organization.members.totalCount).toBe(1);
    const forced = await h.query(TeamPage, { token, variables: { id, forceRefresh: true } });
    expect(forced.data?.organization.members.totalCount).toBe(2);
    expect(forced.data?.organization.members.fromCache).toBe(false);
    const after = await h.query(TeamPage, { token, variables: { id } });
    expect(after.data?.organization.members).toMatchObject({ totalCount: 2, fromCache: true });
  });

  it('200 concurrent queries on a cold organization cost one Clerk membership read sequence', async () => {
    // Three pages of 500.
    const { organizationId: id, members } = seedTeam(h.emulator, {
      name: 'Herd Co',
      admins: 0,
      members: 1200,
    });
    const token = members[0]?.token;
    h.emulator.control.setLatency({ fixedMs: 50 });
    try {
      const path = `/v1/organizations/${id}/memberships`;
      const results = await Promise.all(
        Array.from({ length: 200 }, () => h.query(TeamPage, { token, variables: { id, limit: 5 } })),
      );
      expect(results.every((result) => result.data?.organization.members.totalCount === 1200)).toBe(true);
      const reads = h.emulator.control.requestLog().filter((entry) => entry.path === path);
      expect(reads.map((entry) => entry.query.offset ?? '0').sort()).toEqual(['0', '1000', '500']);
    } finally {
      h.emulator.control.setLatency({ fixedMs: 0 });
    }
  });
});

describe('cache TTL', () => {
  let short: Harness;
  beforeAll(async () => {
    short = await startHarness({ emulator: { seed: 'empty' }, config: { cacheTtlSeconds: 1 } });
  });
  afterAll(() => short.close());

  it('reads Clerk again once the TTL has passed', async () => {
    // A fake wall clock (Date only: sockets and timers keep real time) is the cache's clock too.
    vi.useFakeTimers({ toFake: ['Date'] });
    const { organizationId: id, members } = seedTeam(short.emulator, {
      name: 'TTL Co',
      admins: 0,
      members: 1,
      tokens: { expiresInS: 120 },
    });
    const token = members[0]?.token;
    const first = await short.query(TeamPage, { token, variables: { id } });
    expect(first.data?.organization.members.fromCache).toBe(false);
    const readAt = Date.parse(first.data?.organization.members.cachedAt ?? '');

    vi.setSystemTime(readAt + 900); // within the 1-second TTL
    const cached = await short.query(TeamPage, { token, variables: { id } });
    expect(cached.data?.organization.members.fromCache).toBe(true);

    vi.setSystemTime(readAt + 1100); // past it
    const expired = await short.query(TeamPage, { token, variables: { id } });
    expect(expired.data?.organization.members.fromCache).toBe(false);
    expect(Date.parse(expired.data?.organization.members.cachedAt ?? '')).toBeGreaterThan(readAt);
  });
});

describe('invalidation during a slow in-flight read', () => {
  it('the next query sees data written after the invalidation, not the older in-flight read', async () => {
    const { organizationId: id, members } = seedTeam(h.emulator, { name: 'Race Co', admins: 0, members: 2 });
    const token = members[0]?.token;
    const newcomer = h.emulator.store.createUser({
      firstName: 'Late',
      lastName: 'Arrival',
      emailAddress: 'late@race.test',
    });

    // Clerk answers the roster read from the data it holds before the write; the answer is held on its way back.
    const held = h.gate?.hold((path) => path === `/v1/organizations/${id}/memberships`);
    if (!held) throw new Error('the harness gates Clerk');
    const inFlight = h.query(TeamPage, { token, variables: { id } });
    try {
      await held.answered;
      // While the read is in flight: change the data, and let the signed webhook reach the server and be processed.
      const processed = 'organizationMembership.created processed';
      const processedBefore = h.app.webhooks.outcomes().get(processed) ?? 0;
      await h.clerk.organizations.createOrganizationMembership({
        organizationId: id,
        userId: newcomer.id,
        role: 'org:member',
      });
      await h.emulator.control.webhooksSettled();
      expect(h.app.webhooks.outcomes().get(processed)).toBe(processedBefore + 1);
    } finally {
      held.release();
    }
    // The read was answered from the data Clerk had before the write (the precondition of this test)...
    const old = await inFlight;
    expect(old.data?.organization.members.totalCount).toBe(2);
    // ...and was not stored over the invalidation.
    const next = await h.query(TeamPage, { token, variables: { id } });
    expect(next.data?.organization.members.totalCount).toBe(3);
    expect(next.data?.organization.members.members.map((m) => m.firstName)).toContain('Late');
  });
});
