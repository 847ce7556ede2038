/**
 * Unit tests of the team cache's own logic (single flight, detach on invalidation, TTL, size bound, user index,
 * membership lists) and of the revocation records, with a scripted source whose reads resolve when the test says
 * so and an injected clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTeamCache, ReadAbandonedError } from '../src/team/cache.js';
import {
  OrganizationNotFoundError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
} from '../src/team/errors.js';
import { ANY, createRevocations } from '../src/team/revocations.js';
import {
  createRoster,
  createUserMemberships,
  type Member,
  type PendingInvitations,
  type Roster,
  type SourceRead,
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
  permissions: [],
  createdAt: '2026-01-01T00:00:00.000Z',
});

/**
 * A source whose reads wait until `resolveNext` is called, so tests control interleavings. Like the Clerk source
 * behind the upstream policy, it reports each read's Clerk call as sent (`onCall`): at once, or, with
 * `sendAtOnce: false`, when the test calls `send` (a read still waiting for the budget until then); and a read
 * aborted before it was sent is dropped (rejected with the signal's reason), as the upstream drops queued calls.
 */
function scriptedSource({ sendAtOnce = true }: { sendAtOnce?: boolean } = {}) {
  const pending: {
    organizationId: string;
    read: SourceRead;
    resolve: (roster: Roster) => void;
    reject: (error: Error) => void;
  }[] = [];
  const reads: string[] = [];
  /** The options of every roster read, in order. */
  const rosterReads: SourceRead[] = [];
  const sent = new Set<SourceRead>();
  const userPending: {
    userId: string;
    resolve: (list: UserMemberships) => void;
    reject: (error: unknown) => void;
  }[] = [];
  const userReads: string[] = [];
  const source: TeamSource = {
    readRoster: (organizationId, read = {}) =>
      new Promise((resolve, reject) => {
        reads.push(organizationId);
        rosterReads.push(read);
        const call = { organizationId, read, resolve, reject };
        pending.push(call);
        read.signal?.addEventListener('abort', () => {
          if (sent.has(read)) return; // a call under way is not interrupted
          pending.splice(pending.indexOf(call), 1);
          reject(read.signal?.reason);
        });
        if (sendAtOnce) {
          sent.add(read);
          read.onCall?.();
        }
      }),
    readRosterPage: () => Promise.reject(new Error('no page reads in these tests')),
    readPendingInvitations: async (organizationId, read = {}): Promise<PendingInvitations> => {
      read.onCall?.();
      return { organizationId, invitations: [] };
    },
    readUserMemberships: (userId, read = {}) =>
      new Promise((resolve, reject) => {
        userReads.push(userId);
        userPending.push({ userId, resolve, reject });
        read.onCall?.();
      }),
  };
  return {
    source,
    reads,
    rosterReads,
    userReads,
    /** Roster reads not answered yet (not dropped either). */
    pendingCount: () => pending.length,
    /** The oldest waiting roster read's Clerk call is sent now. */
    send() {
      const next = pending.find((call) => !sent.has(call.read));
      if (!next) throw new Error('no unsent read');
      sent.add(next.read);
      next.read.onCall?.();
    },
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
  organization: {
    id: organizationId,
    name: organizationId,
    slug: null,
    imageUrl: null,
    membersCount: 3,
    maxAllowedMemberships: null,
  },
  role: 'org:member',
  permissions: [],
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

  it('invalidateUser forgets every cached roster holding the user, and never stores a read under way that holds them', async () => {
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
});

describe('team cache: forceRefresh is a Clerk read begun after the request arrived', () => {
  it('never serves a copy read before the request, however recent; a copy read since is served', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await first;
    now += 1; // a millisecond later: no interval makes the old copy good enough
    const forced = cache.getRoster('org_a', { forceRefresh: true, requestedAt: now });
    expect(clerk.reads).toHaveLength(2);
    clerk.resolveNext([member('user_1'), member('user_2')]);
    expect(await forced).toMatchObject({
      fromCache: false,
      readStartedAt: now,
      value: { members: [{}, {}] },
    });
    // Another forced request that arrived when that read had begun (or earlier) is served by it, from the cache.
    expect(await cache.getRoster('org_a', { forceRefresh: true, requestedAt: now })).toMatchObject({
      fromCache: true,
      value: { members: [{}, {}] },
    });
    expect(clerk.reads).toHaveLength(2);
  });

  it('joins a read under way that began after the request arrived, and one not sent yet', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource({ sendAtOnce: false });
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const arrivedAt = now;
    const plain = cache.getRoster('org_a'); // waits for the budget: not sent yet
    now += 100;
    const early = cache.getRoster('org_a', { forceRefresh: true, requestedAt: arrivedAt });
    clerk.send(); // sent after both arrived
    now += 100;
    const late = cache.getRoster('org_a', { forceRefresh: true, requestedAt: arrivedAt + 50 });
    clerk.resolveNext([member('user_1')]);
    const results = await Promise.all([plain, early, late]);
    expect(clerk.reads).toEqual(['org_a']);
    expect(results.map((result) => result.fromCache)).toEqual([false, false, false]);
  });

  it('with only an older read under way, forced callers wait for it and share one more read', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const older = cache.getRoster('org_a'); // sent at 1_000_000
    now += 10;
    const forced = [1, 2, 3].map(() => cache.getRoster('org_a', { forceRefresh: true, requestedAt: now }));
    const plain = cache.getRoster('org_a'); // an ordinary caller joins the read under way
    // At most one read in flight and one queued: nothing more is asked of Clerk yet.
    expect(clerk.reads).toHaveLength(1);
    expect(cache.stats().inFlight).toBe(1);
    clerk.resolveNext([member('user_1', 'Old')]);
    expect((await older).value.members[0]?.firstName).toBe('Old');
    expect((await plain).value.members[0]?.firstName).toBe('Old');
    // The older read settled: the queued one begins, once, for all three.
    await vi.waitFor(() => expect(clerk.reads).toHaveLength(2));
    now += 10;
    // A forced request that arrived as that read was sent shares it too.
    const alsoForced = cache.getRoster('org_a', { forceRefresh: true, requestedAt: 1_000_010 });
    clerk.resolveNext([member('user_1', 'New')]);
    for (const result of await Promise.all([...forced, alsoForced])) {
      expect(result).toMatchObject({ fromCache: false, readStartedAt: 1_000_010 });
      expect(result.value.members[0]?.firstName).toBe('New');
    }
    expect(clerk.reads).toHaveLength(2);
    expect((await cache.getRoster('org_a')).value.members[0]?.firstName).toBe('New');
  });

  it('an invalidation of the older read starts the queued one at once', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, now: () => now });
    const older = cache.getRoster('org_a');
    now += 10;
    const forced = cache.getRoster('org_a', { forceRefresh: true, requestedAt: now });
    cache.invalidateOrganization('org_a');
    expect(clerk.reads).toHaveLength(2); // the detached read no longer holds anyone up
    const plain = cache.getRoster('org_a'); // joins the new read, not the detached one
    expect(clerk.reads).toHaveLength(2);
    clerk.resolveNext([member('user_1', 'Old')]);
    clerk.resolveNext([member('user_1', 'New')]);
    expect((await older).value.members[0]?.firstName).toBe('Old');
    expect((await forced).value.members[0]?.firstName).toBe('New');
    expect((await plain).value.members[0]?.firstName).toBe('New');
  });
});

describe('team cache: deadlines, and reads nobody waits for', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** When a promise settles (fake clock), to assert "at once". */
  const settledAt = (promise: Promise<unknown>) => {
    const at: { ms?: number } = {};
    promise.then(
      () => {
        at.ms = Date.now();
      },
      () => {
        at.ms = Date.now();
      },
    );
    return at;
  };

  it('a waiter whose deadline passes gets the stale copy at once; the read goes on for those still waiting', async () => {
    vi.useFakeTimers();
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, staleGraceMs: 60_000 });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1', 'Old')]);
    await first;
    cache.invalidateOrganization('org_a');
    const t = Date.now();
    const patient = cache.getRoster('org_a', { deadline: t + 5000 });
    const hurried = cache.getRoster('org_a', { deadline: t + 1000 });
    const hurriedAt = settledAt(hurried);
    await vi.advanceTimersByTimeAsync(999);
    expect(hurriedAt.ms).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(hurriedAt.ms).toBe(t + 1000);
    expect(await hurried).toMatchObject({
      fromCache: true,
      stale: true,
      value: { members: [{ firstName: 'Old' }] },
    });
    expect(clerk.rosterReads[1]?.signal?.aborted).toBe(false);
    clerk.resolveNext([member('user_1', 'New')]);
    expect(await patient).toMatchObject({ fromCache: false, value: { members: [{ firstName: 'New' }] } });
  });

  it('with nothing usable cached: RATE_LIMITED if the read was not sent yet, UPSTREAM_UNAVAILABLE if Clerk has not answered', async () => {
    vi.useFakeTimers();
    const clerk = scriptedSource({ sendAtOnce: false });
    const cache = createTeamCache({ source: clerk.source, ...options, staleGraceMs: 60_000 });
    const t = Date.now();
    const underWay = cache.getRoster('org_b', { deadline: t + 2000 });
    const underWayAt = settledAt(underWay);
    clerk.send(); // org_b's read is sent
    const queued = cache.getRoster('org_a', { deadline: t + 1000 }); // org_a's waits for the budget
    const queuedAt = settledAt(queued);
    expect(clerk.rosterReads.map((read) => read.deadline)).toEqual([t + 2000, t + 1000]);
    await vi.advanceTimersByTimeAsync(2000);
    await expect(queued).rejects.toBeInstanceOf(UpstreamRateLimitedError);
    await expect(underWay).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(underWay).rejects.not.toBeInstanceOf(UpstreamRateLimitedError);
    expect([queuedAt.ms, underWayAt.ms]).toEqual([t + 1000, t + 2000]);
    // Both reads were given up: the one still waiting is dropped, never sent; the one under way runs out, unstored.
    expect(clerk.rosterReads.map((read) => read.signal?.aborted)).toEqual([true, true]);
    expect(clerk.pendingCount()).toBe(1);
    clerk.resolveNext([member('user_1')]);
    expect(cache.stats().inFlight).toBe(0);
    const again = cache.getRoster('org_b');
    expect(clerk.reads).toEqual(['org_b', 'org_a', 'org_b']);
    clerk.send();
    clerk.resolveNext([member('user_1')]);
    expect((await again).fromCache).toBe(false);
  });

  it('a request whose deadline has passed starts no read', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    await expect(cache.getRoster('org_a', { deadline: Date.now() - 1 })).rejects.toBeInstanceOf(
      UpstreamRateLimitedError,
    );
    expect(clerk.reads).toEqual([]);
  });

  it("a read's calls carry its most patient waiter's deadline and the first interactive caller; an interactive caller re-queues a background read not sent yet", async () => {
    const clerk = scriptedSource({ sendAtOnce: false });
    const cache = createTeamCache({ source: clerk.source, ...options });
    const t = Date.now();
    const background = cache.getRoster('org_a', { priority: 'background', deadline: t + 10_000 });
    expect(clerk.rosterReads[0]).toMatchObject({
      priority: 'background',
      caller: undefined,
      deadline: t + 10_000,
    });
    const interactive = cache.getRoster('org_a', { caller: 'user_9', deadline: t + 2000 });
    // Re-queued: the background call is dropped from the queue, an interactive one takes its place.
    expect(clerk.rosterReads[0]?.signal?.aborted).toBe(true);
    expect(clerk.rosterReads[1]).toMatchObject({
      priority: 'interactive',
      caller: 'user_9',
      deadline: t + 10_000,
    });
    expect(clerk.pendingCount()).toBe(1);
    clerk.send();
    // Once sent, it is not restarted for anyone.
    const another = cache.getRoster('org_a', { caller: 'user_8', deadline: t + 3000 });
    expect(clerk.reads).toHaveLength(2);
    clerk.resolveNext([member('user_1')]);
    for (const result of await Promise.all([background, interactive, another]))
      expect(result.fromCache).toBe(false);
  });

  it('an invalidation leaves a read not sent yet alone (it will see the change), and detaches one sent', async () => {
    const clerk = scriptedSource({ sendAtOnce: false });
    const cache = createTeamCache({ source: clerk.source, ...options });
    const queued = cache.getRoster('org_a');
    cache.invalidateOrganization('org_a');
    cache.invalidateUser('user_1');
    cache.invalidateAll();
    expect(cache.getRoster('org_a')).toBeInstanceOf(Promise); // joins the same read
    expect(clerk.reads).toEqual(['org_a']);
    clerk.send();
    clerk.resolveNext([member('user_1')]);
    await queued;
    expect((await cache.getRoster('org_a')).fromCache).toBe(true); // stored

    cache.invalidateOrganization('org_a');
    const sent = cache.getRoster('org_a');
    clerk.send();
    cache.invalidateOrganization('org_a');
    const after = cache.getRoster('org_a');
    expect(clerk.reads).toEqual(['org_a', 'org_a', 'org_a']);
    clerk.send();
    clerk.resolveNext([member('user_1', 'Old')]);
    clerk.resolveNext([member('user_1', 'New')]);
    expect((await sent).value.members[0]?.firstName).toBe('Old');
    expect((await after).value.members[0]?.firstName).toBe('New');
  });

  it('a detached read that only background callers wait for is dropped: its calls not sent are never sent', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1')]);
    await first;
    cache.invalidateOrganization('org_a');
    const refresh = cache.getRoster('org_a', { priority: 'background' });
    const signal = clerk.rosterReads[1]?.signal;
    cache.invalidateOrganization('org_a'); // its answer could not be stored: nobody needs it
    await expect(refresh).rejects.toBeInstanceOf(ReadAbandonedError);
    expect(signal?.aborted).toBe(true);
    expect(cache.stats().inFlight).toBe(0);
    // With an interactive caller waiting it goes on (that caller asked before the change).
    const next = cache.getRoster('org_a', { priority: 'background' });
    const asking = cache.getRoster('org_a');
    cache.invalidateOrganization('org_a');
    expect(clerk.rosterReads[2]?.signal?.aborted).toBe(false);
    clerk.resolveNext([member('user_1')]); // the dropped read's call was under way: answered, ignored
    clerk.resolveNext([member('user_1', 'Seen')]);
    expect((await asking).value.members[0]?.firstName).toBe('Seen');
    expect((await next).value.members[0]?.firstName).toBe('Seen');
  });

  it('a forced read queued behind an older one is never begun if its callers all give up first', async () => {
    vi.useFakeTimers();
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, staleGraceMs: 60_000 });
    const first = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1', 'Old')]);
    await first;
    cache.invalidateOrganization('org_a');
    const older = cache.getRoster('org_a'); // sent
    await vi.advanceTimersByTimeAsync(10);
    const t = Date.now();
    const forced = cache.getRoster('org_a', { forceRefresh: true, requestedAt: t, deadline: t + 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(await forced).toMatchObject({ stale: true, value: { members: [{ firstName: 'Old' }] } });
    clerk.resolveNext([member('user_1', 'New')]);
    expect((await older).fromCache).toBe(false);
    expect(clerk.reads).toHaveLength(2);
    expect(cache.stats().inFlight).toBe(0);
  });
});

describe('team cache: user.updated is precise', () => {
  it('a roster read under way is kept out of the cache only if its result holds the invalidated user', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const unrelated = cache.getRoster('org_a');
    const holding = cache.getRoster('org_b');
    expect(cache.invalidateUser('user_x')).toEqual([]); // in no cached organization
    cache.invalidateUser('user_2');
    clerk.resolveNext([member('user_1')]);
    clerk.resolveNext([member('user_1'), member('user_2')]);
    expect((await unrelated).fromCache).toBe(false);
    expect((await holding).value.members).toHaveLength(2); // those already waiting get it
    expect((await cache.getRoster('org_a')).fromCache).toBe(true); // stored
    const reread = cache.getRoster('org_b'); // not stored
    expect(clerk.reads).toEqual(['org_a', 'org_b', 'org_b']);
    clerk.resolveNext([member('user_1'), member('user_2', 'Renamed')]);
    expect((await reread).value.members[1]?.firstName).toBe('Renamed');
  });

  it('a caller who joined a read after its user was invalidated reads again; those who asked before get the read', async () => {
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options });
    const before = cache.getRoster('org_a');
    cache.invalidateUser('user_2');
    const after = cache.getRoster('org_a'); // joins: the read may not hold user_2 at all
    expect(clerk.reads).toHaveLength(1);
    clerk.resolveNext([member('user_2', 'Old')]);
    expect((await before).value.members[0]?.firstName).toBe('Old');
    await vi.waitFor(() => expect(clerk.reads).toHaveLength(2));
    clerk.resolveNext([member('user_2', 'New')]);
    expect((await after).value.members[0]?.firstName).toBe('New');
    expect((await cache.getRoster('org_a')).fromCache).toBe(true);
  });

  it('a user invalidated before the read was sent does not count against it', async () => {
    const clerk = scriptedSource({ sendAtOnce: false });
    const cache = createTeamCache({ source: clerk.source, ...options });
    const read = cache.getRoster('org_a');
    cache.invalidateUser('user_1');
    clerk.send();
    clerk.resolveNext([member('user_1')]);
    await read;
    expect((await cache.getRoster('org_a')).fromCache).toBe(true);
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

describe('team cache: patches from webhooks', () => {
  const upsert = (m: Member, version: number) => ({
    kind: 'memberUpsert' as const,
    organizationId: 'org_a',
    member: { ...m, version },
  });

  it('a patch is a new snapshot (the old one unchanged), keeps the TTL of the full read, and indexes the added user', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, clockSkewMs: 0, now: () => now });
    const reading = cache.getRoster('org_a');
    clerk.resolveNext([{ ...member('user_1'), version: 1 }]);
    const before = (await reading).value;
    now += 10;
    const added = { ...member('user_2'), createdAt: '2026-02-01T00:00:00.000Z' };
    expect(cache.applyDelta(upsert(added, now))).toEqual({
      patched: ['org_a'],
      ignored: [],
      invalidated: [],
    });
    const after = (await cache.getRoster('org_a')).value;
    expect(after.members.map((m) => m.userId)).toEqual(['user_2', 'user_1']);
    expect(after.byUserId.get('user_2')?.userId).toBe('user_2');
    expect(after.byUserId.size).toBe(2);
    expect(before.members.map((m) => m.userId)).toEqual(['user_1']);
    expect(before.byUserId.has('user_2')).toBe(false);
    // The user index knows the patched-in member: their profile change finds their organization.
    const profile = { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.test', imageUrl: null };
    expect(
      cache.applyDelta({ kind: 'profile', userId: 'user_2', version: now + 1, profile }).patched,
    ).toEqual(['org_a']);
    // A duplicate is ignored.
    expect(cache.applyDelta(upsert(added, now)).ignored).toEqual(['org_a']);
    // The TTL still counts from the full read, not from the patch.
    now = 1_000_000 + options.ttlMs;
    const reread = cache.getRoster('org_a');
    expect(clerk.reads).toEqual(['org_a', 'org_a']);
    clerk.resolveNext([]);
    expect((await reread).fromCache).toBe(false);
  });

  it('a member the snapshot lacks: added if written after its full read, ignored if before, invalidates within the clock skew', async () => {
    const now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({ source: clerk.source, ...options, clockSkewMs: 1000, now: () => now });
    const reading = cache.getRoster('org_a');
    clerk.resolveNext([{ ...member('user_1'), version: 1 }]);
    await reading; // its read began at `now`
    // Written well before the read began: the read saw Clerk after it and did not find the member (removed since).
    expect(cache.applyDelta(upsert(member('user_2'), now - 1500)).ignored).toEqual(['org_a']);
    // Well after: added.
    expect(cache.applyDelta(upsert(member('user_3'), now + 1500)).patched).toEqual(['org_a']);
    // Within the skew of the read's start: cannot tell, so the copy is invalidated (re-read on the next query).
    expect(cache.applyDelta(upsert(member('user_4'), now + 500)).invalidated).toEqual(['org_a']);
    const next = cache.getRoster('org_a');
    expect(clerk.reads).toEqual(['org_a', 'org_a']);
    clerk.resolveNext([]);
    await next;
  });

  it('a patch that makes a roster too big for the size bound drops it, and the user index with it', async () => {
    const now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({
      source: clerk.source,
      ttlMs: 60_000,
      maxMembers: 2,
      clockSkewMs: 0,
      now: () => now,
    });
    const reading = cache.getRoster('org_a');
    clerk.resolveNext([member('user_1'), member('user_2')]);
    await reading;
    expect(cache.applyDelta(upsert(member('user_3'), now + 1)).patched).toEqual(['org_a']);
    // Three members do not fit in two: the LRU refuses the snapshot and drops the entry it was to replace.
    expect(cache.stats().entries).toBe(0);
    // Nothing cached holds user_1 any more, so no organization is named (and none re-read ahead) for them.
    expect(cache.invalidateUser('user_1')).toEqual([]);
    // Nor the user the patch added: the refused snapshot indexes no one.
    expect(cache.invalidateUser('user_3')).toEqual([]);
  });

  it('a patch that grows a roster past the size bound evicts the least recently used organization from the user index too', async () => {
    const now = 1_000_000;
    const clerk = scriptedSource();
    const cache = createTeamCache({
      source: clerk.source,
      ttlMs: 60_000,
      maxMembers: 3,
      clockSkewMs: 0,
      now: () => now,
    });
    for (const [organizationId, members] of [
      ['org_a', [member('user_1'), member('user_2')]],
      ['org_b', [member('user_3')]],
    ] as const) {
      const read = cache.getRoster(organizationId);
      clerk.resolveNext([...members]);
      await read;
    }
    expect(cache.applyDelta(upsert(member('user_4'), now + 1)).patched).toEqual(['org_a']);
    // Four members in a bound of three: org_b, least recently used, made room.
    expect(cache.cachedParts('org_b').roster).toBe(false);
    expect(cache.invalidateUser('user_3')).toEqual([]);
  });

  it('drift: the re-read after the TTL is compared with the patched copy, also when the LRU has dropped it (no stale grace)', async () => {
    let now = 1_000_000;
    const clerk = scriptedSource();
    const drifts: unknown[] = [];
    const counted: string[] = [];
    const cache = createTeamCache({
      source: clerk.source,
      ...options,
      staleGraceMs: 0,
      clockSkewMs: 0,
      now: () => now,
      observer: { read: () => {}, drift: (kind) => counted.push(kind) },
      onDrift: (drift) => drifts.push(drift),
    });
    const reading = cache.getRoster('org_a');
    clerk.resolveNext([{ ...member('user_1'), version: 1 }]);
    await reading;
    now += 10;
    cache.applyDelta(upsert({ ...member('user_1'), role: 'org:admin' }, now));

    now += options.ttlMs + 1;
    const reread = cache.getRoster('org_a');
    // Clerk says the role changed, and also holds a member whose webhook never came.
    clerk.resolveNext([
      { ...member('user_9'), version: 5 },
      { ...member('user_1'), role: 'org:admin', version: 1_000_010 },
    ]);
    await reread;
    expect(counted).toEqual(['members']);
    expect(drifts).toEqual([
      {
        kind: 'members',
        organizationId: 'org_a',
        missing: ['orgmem_user_9'],
        unexpected: [],
        changed: {},
        order: false,
        counts: { missing: 1, unexpected: 0, changed: 0 },
      },
    ]);
  });
});
