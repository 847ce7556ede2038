/**
 * Unit tests of the team cache's own logic (single flight, detach on invalidation, TTL, size bound, user index,
 * membership lists) and of the revocation records, with a scripted source whose reads resolve when the test says
 * so and an injected clock.
 */
import { describe, expect, it } from 'vitest';
import { createTeamCache } from '../src/team/cache.js';
import { OrganizationNotFoundError, UpstreamUnavailableError } from '../src/team/errors.js';
import { ANY, createRevocations } from '../src/team/revocations.js';
import {
  createRoster,
  createUserMemberships,
  type Member,
  type PendingInvitations,
  type Roster,
  type TeamSource,
  type UserMembership,
  type UserMemberships,
} from '../src/team/types.js';

const member = (userId: string, firstName = 'Ada'): Member => ({
  membershipId: `orgmem_${userId}`,
  userId,
  firstName,
  lastName: 'Lovelace',
  email: `${userId}@example.test`,
  imageUrl: null,
  role: 'org:member',
  createdAt: '2026-01-01T00:00:00.000Z',
});

/** A source whose reads wait until `resolveNext` is called, so tests control interleavings. */
function scriptedSource() {
  const pending: {
    organizationId: string;
    resolve: (roster: Roster) => void;
    reject: (error: Error) => void;
  }[] = [];
  const reads: string[] = [];
  const userPending: {
    userId: string;
    resolve: (list: UserMemberships) => void;
    reject: (error: Error) => void;
  }[] = [];
  const userReads: string[] = [];
  const source: TeamSource = {
    readRoster: (organizationId) =>
      new Promise((resolve, reject) => {
        reads.push(organizationId);
        pending.push({ organizationId, resolve, reject });
      }),
    readPendingInvitations: async (organizationId): Promise<PendingInvitations> => ({
      organizationId,
      invitations: [],
    }),
    readUserMemberships: (userId) =>
      new Promise((resolve, reject) => {
        userReads.push(userId);
        userPending.push({ userId, resolve, reject });
      }),
  };
  return {
    source,
    reads,
    userReads,
    /** Answers the oldest membership-list read with memberships in these organizations. */
    resolveUserNext(organizationIds: string[]) {
      const next = userPending.shift();
      if (!next) throw new Error('no membership-list read pending');
      next.resolve(createUserMemberships(next.userId, organizationIds.map(membershipIn)));
    },
    rejectUserNext(error: Error) {
      userPending.shift()?.reject(error);
    },
    resolveNext(members: Member[]) {
      const next = pending.shift();
      if (!next) throw new Error('no read pending');
      next.resolve(createRoster(next.organizationId, members));
    },
    rejectNext(error: Error) {
      pending.shift()?.reject(error);
    },
  };
}

const membershipIn = (organizationId: string): UserMembership => ({
  membershipId: `orgmem_${organizationId}`,
  organization: { id: organizationId, name: organizationId, slug: null, imageUrl: null, membersCount: 3 },
  role: 'org:member',
  createdAt: '2026-01-01T00:00:00.000Z',
});

const options = { ttlMs: 60_000, maxMembers: 1000 };

describe('team cache', () => {
  it('shares one read among concurrent callers and serves the next one from the cache', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const waiting = Array.from({ length: 50 }, () => cache.getRoster('org_a'));
    clerk.resolveNext([member('user_1')]);
    const results = await Promise.all(waiting);
    expect(clerk.reads).toEqual(['org_a']);
    expect(results.every((result) => !result.fromCache && result.value.members.length === 1)).toBe(true);
    const hit = await cache.getRoster('org_a');
    expect(hit.fromCache).toBe(true);
    expect(hit.fetchedAt).toBe(results[0]?.fetchedAt);
  });

  it('never stores a read that was in flight when the organization was invalidated', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const before = cache.getRoster('org_a');
    cache.invalidateOrganization('org_a');
    // The caller that was already waiting still gets an answer; the old read is detached, not aborted.
    clerk.resolveNext([member('user_1', 'Old')]);
    expect((await before).value.members[0]?.firstName).toBe('Old');

    const after = cache.getRoster('org_a');
    expect(clerk.reads).toHaveLength(2);
    clerk.resolveNext([member('user_1', 'New')]);
    expect((await after).value.members[0]?.firstName).toBe('New');
    expect((await cache.getRoster('org_a')).value.members[0]?.firstName).toBe('New');
  });

  it('a new caller after an invalidation does not join the detached read', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const before = cache.getRoster('org_a');
    cache.invalidateOrganization('org_a');
    const after = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1', 'Old')]);
    clerk.resolveNext([member('user_1', 'New')]);
    expect((await before).value.members[0]?.firstName).toBe('Old');
    expect((await after).value.members[0]?.firstName).toBe('New');
    expect((await cache.getRoster('org_a')).value.members[0]?.firstName).toBe('New');
  });

  it('invalidateUser forgets every cached roster holding the user, and detaches roster reads in flight', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    for (const [organizationId, members] of [
      ['org_a', [member('user_1'), member('user_2')]],
      ['org_b', [member('user_1')]],
      ['org_c', [member('user_3')]],
    ] as const) {
      const read = cache.getRoster(organizationId);
      clerk.resolveNext([...members]);
      await read;
    }
    const inFlight = cache.getRoster('org_d');
    expect(cache.invalidateUser('user_1').sort()).toEqual(['org_a', 'org_b']);
    clerk.resolveNext([member('user_1')]);
    await inFlight;
    expect((await cache.getRoster('org_c')).fromCache).toBe(true);
    for (const organizationId of ['org_a', 'org_b', 'org_d']) {
      const again = cache.getRoster(organizationId);
      clerk.resolveNext([member('user_1', 'Renamed')]);
      expect(await again).toMatchObject({ fromCache: false, value: { members: [{ firstName: 'Renamed' }] } });
    }
  });

  it('expires entries after the TTL', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await first;
    now += options.ttlMs + 1;
    const second = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    expect((await second).fromCache).toBe(false);
    expect(clerk.reads).toEqual(['org_a', 'org_a']);
  });

  it('keeps its size bound in members, evicting the least recently used organization', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ttlMs: 60_000, maxMembers: 5 });
    for (const organizationId of ['org_a', 'org_b']) {
      const read = cache.getRoster(organizationId);
      clerk.resolveNext([member(`${organizationId}_1`), member(`${organizationId}_2`)]);
      await read;
    }
    await cache.getRoster('org_a'); // org_a is now the most recently used
    const read = cache.getRoster('org_c');
    clerk.resolveNext([member('c1'), member('c2'), member('c3')]);
    await read;
    expect(cache.stats().members).toBeLessThanOrEqual(5);
    expect(cache.cachedParts('org_b').roster).toBe(false);
    expect(cache.cachedParts('org_a').roster).toBe(true);
    // The evicted roster's users left the index with it.
    expect(cache.invalidateUser('org_b_1')).toEqual([]);
  });

  it('does not cache failures: the next caller reads again', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const failing = cache.getRoster('org_a');
    clerk.rejectNext(new Error('boom'));
    await expect(failing).rejects.toThrow('boom');
    const retry = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    expect((await retry).value.members).toHaveLength(1);
  });

  it('forceRefresh reads again when the copy is older than 5 s; concurrent forced reads share one read', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await first;
    now += 5001;
    const forced = [
      cache.getRoster('org_a', { forceRefresh: true }),
      cache.getRoster('org_a', { forceRefresh: true }),
    ];
    clerk.resolveNext([member('user_1'), member('user_2')]);
    const results = await Promise.all(forced);
    expect(clerk.reads).toHaveLength(2);
    expect(results.map((result) => [result.fromCache, result.value.members.length])).toEqual([
      [false, 2],
      [false, 2],
    ]);
    expect((await cache.getRoster('org_a')).value.members).toHaveLength(2);
  });

  it('throttles forced refreshes: within 5 s of a read, a forced read shares that read', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const first = cache.getRoster('org_a', { forceRefresh: true });
    clerk.resolveNext([member('user_1')]);
    await first;
    now += 4000;
    const again = await cache.getRoster('org_a', { forceRefresh: true });
    expect(again.fromCache).toBe(true);
    expect(clerk.reads).toHaveLength(1);
  });
});

describe('team cache when Clerk fails', () => {
  const upstreamDown = () => new UpstreamUnavailableError('Clerk is down', 503);

  it('serves an expired copy, marked stale, while within the grace period', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({
      source: clerk.source,
      ...options,
      staleGraceMs: 3_600_000,
      now: () => now,
    });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    const fresh = await first;
    now += options.ttlMs + 1;
    const refresh = cache.getRoster('org_a');
    clerk.rejectNext(upstreamDown());
    expect(await refresh).toMatchObject({ fromCache: true, stale: true, fetchedAt: fresh.fetchedAt });
    // Once Clerk answers again the entry is fresh and no longer stale.
    const recovered = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1'), member('user_2')]);
    expect(await recovered).toMatchObject({ fromCache: false, stale: false });
  });

  it('does not serve a copy older than TTL + grace', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, staleGraceMs: 1000, now: () => now });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await first;
    now += options.ttlMs + 1001;
    const refresh = cache.getRoster('org_a');
    clerk.rejectNext(upstreamDown());
    await expect(refresh).rejects.toBeInstanceOf(UpstreamUnavailableError);
  });

  it('an invalidated copy is re-read first, and served stale only if Clerk fails', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, staleGraceMs: 60_000 });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await first;
    cache.invalidateOrganization('org_a');
    const reread = cache.getRoster('org_a');
    expect(clerk.reads).toHaveLength(2);
    clerk.rejectNext(upstreamDown());
    expect(await reread).toMatchObject({ fromCache: true, stale: true });
  });

  it('remembers unknown organizations for a while instead of asking Clerk again', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({
      source: clerk.source,
      ...options,
      notFoundTtlMs: 30_000,
      now: () => now,
    });
    const first = cache.getRoster('org_gone');
    clerk.rejectNext(new OrganizationNotFoundError('org_gone'));
    await expect(first).rejects.toBeInstanceOf(OrganizationNotFoundError);
    await expect(cache.getRoster('org_gone')).rejects.toBeInstanceOf(OrganizationNotFoundError);
    expect(clerk.reads).toHaveLength(1);
    now += 30_001;
    const later = cache.getRoster('org_gone');
    clerk.resolveNext([member('user_1')]);
    expect((await later).value.members).toHaveLength(1);
  });

  it('an invalidation (e.g. organization.created) forgets that an organization was unknown', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const first = cache.getRoster('org_new');
    clerk.rejectNext(new OrganizationNotFoundError('org_new'));
    await expect(first).rejects.toThrow();
    cache.invalidateOrganization('org_new');
    const second = cache.getRoster('org_new');
    clerk.resolveNext([member('user_1')]);
    expect((await second).value.members).toHaveLength(1);
  });
});

describe('team cache: membership lists and what authorization may look at', () => {
  it('caches one membership list per user with the same single flight, and dates every read by its start', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const waiting = [cache.getUserMemberships('user_1'), cache.getUserMemberships('user_1')];
    now += 250; // the read takes a while: its data is as old as its start, not its end
    clerk.resolveUserNext(['org_a', 'org_b']);
    const [first] = await Promise.all(waiting);
    expect(clerk.userReads).toEqual(['user_1']);
    expect(first).toMatchObject({ fromCache: false, readStartedAt: 1_000_000, fetchedAt: 1_000_250 });
    expect([...(first?.value.byOrganizationId.keys() ?? [])]).toEqual(['org_a', 'org_b']);
    expect(await cache.getUserMemberships('user_1')).toMatchObject({
      fromCache: true,
      readStartedAt: 1_000_000,
    });
  });

  it("invalidates a user's list, and every list holding an organization; a list read in flight is never stored", async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    for (const [userId, organizations] of [
      ['user_1', ['org_a']],
      ['user_2', ['org_a', 'org_b']],
      ['user_3', ['org_b']],
    ] as const) {
      const read = cache.getUserMemberships(userId);
      clerk.resolveUserNext([...organizations]);
      await read;
    }
    cache.invalidateMembershipListsOf('org_a');
    /** Reads a user's list, answering Clerk if the cache asked; true when it came from the cache. */
    const fromCache = async (userId: string) => {
      const before = clerk.userReads.length;
      const read = cache.getUserMemberships(userId);
      if (clerk.userReads.length > before) clerk.resolveUserNext(['org_b']);
      return (await read).fromCache;
    };
    expect(await fromCache('user_1')).toBe(false);
    expect(await fromCache('user_2')).toBe(false);
    expect(await fromCache('user_3')).toBe(true);

    const inFlight = cache.getUserMemberships('user_4');
    cache.invalidateUserMemberships('user_4');
    clerk.resolveUserNext(['org_old']);
    expect((await inFlight).value.byOrganizationId.has('org_old')).toBe(true); // the caller already waiting
    const after = cache.getUserMemberships('user_4');
    clerk.resolveUserNext([]);
    expect((await after).value.memberships).toEqual([]);
  });

  it('serves a stale membership list when Clerk fails, like any entry', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, staleGraceMs: 60_000 });
    const first = cache.getUserMemberships('user_1');
    clerk.resolveUserNext(['org_a']);
    await first;
    cache.invalidateUserMemberships('user_1');
    const reread = cache.getUserMemberships('user_1');
    clerk.rejectUserNext(new UpstreamUnavailableError('down', 503));
    expect(await reread).toMatchObject({ fromCache: true, stale: true });
  });

  it('peekRoster returns a fresh roster only: never reads Clerk, never an invalidated or expired copy', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({
      source: clerk.source,
      ...options,
      staleGraceMs: 3_600_000,
      now: () => now,
    });
    expect(cache.peekRoster('org_a')).toBeUndefined();
    expect(clerk.reads).toEqual([]);
    const read = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await read;
    expect(cache.peekRoster('org_a')?.value.byUserId.has('user_1')).toBe(true);
    cache.invalidateOrganization('org_a');
    expect(cache.peekRoster('org_a')).toBeUndefined();

    const reread = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await reread;
    now += options.ttlMs;
    expect(cache.peekRoster('org_a')).toBeUndefined(); // expired, though still held for stale-if-error
    expect(cache.cachedParts('org_a').roster).toBe(true);
    expect(clerk.reads).toEqual(['org_a', 'org_a']);
  });
});

describe('revocation records', () => {
  it('apply to the user and organization named, to a whole organization (*) and to a whole user (*)', () => {
    let now = 1_000;
    const revocations = createRevocations({ retentionMs: 60_000, now: () => now });
    expect(revocations.revokedAt('user_1', 'org_a')).toBe(0);
    revocations.record('user_1', 'org_a');
    now = 2_000;
    revocations.record(ANY, 'org_b');
    now = 3_000;
    revocations.record('user_2', ANY);
    expect(revocations.revokedAt('user_1', 'org_a')).toBe(1_000);
    expect(revocations.revokedAt('user_9', 'org_a')).toBe(0);
    expect(revocations.revokedAt('user_1', 'org_b')).toBe(2_000);
    expect(revocations.revokedAt('user_2', 'org_a')).toBe(3_000);
    expect(revocations.revokedAt('user_2', 'org_z')).toBe(3_000);
    // The newest applies: a second removal of the same membership moves its time.
    now = 4_000;
    revocations.record('user_1', 'org_a');
    expect(revocations.revokedAt('user_1', 'org_a')).toBe(4_000);
  });

  it('are kept for the retention (TTL + stale grace), then forgotten', () => {
    let now = 1_000;
    const revocations = createRevocations({ retentionMs: 60_000, now: () => now });
    revocations.record('user_1', 'org_a');
    now += 59_999;
    expect(revocations.revokedAt('user_1', 'org_a')).toBe(1_000);
    now += 2;
    expect(revocations.revokedAt('user_1', 'org_a')).toBe(0);
    expect(revocations.size()).toBe(0);
  });

  it('bounded memory: a record pushed out early becomes a floor for everyone, never a forgotten removal', () => {
    let now = 1_000;
    const revocations = createRevocations({ retentionMs: 60_000, maxRecords: 2, now: () => now });
    revocations.record('user_1', 'org_a');
    now = 2_000;
    revocations.record('user_2', 'org_a');
    now = 3_000;
    revocations.record('user_3', 'org_a'); // pushes out user_1's record
    expect(revocations.size()).toBe(2);
    expect(revocations.revokedAt('user_1', 'org_a')).toBe(1_000);
    expect(revocations.revokedAt('user_9', 'org_z')).toBe(1_000);
    expect(revocations.revokedAt('user_3', 'org_a')).toBe(3_000);
    // The floor lapses with the retention, like the record it stands for.
    now = 61_001;
    expect(revocations.revokedAt('user_9', 'org_z')).toBe(0);
  });
});
