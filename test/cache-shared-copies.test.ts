/**
 * The cache's seam for copies shared between replicas (`SourceRead.onSharedCopy`, `SourceRead.notBefore`), with a
 * scripted source and an injected clock: a shared copy keeps the dates of the Clerk read that made it and is served
 * as `fromCache`; an invalidation that reaches a read before its copy makes the cache refuse the copy; a forced read
 * never settles for a copy older than its request.
 */
import { describe, expect, it } from 'vitest';
import { createTeamCache } from '../src/team/cache.js';
import {
  createRoster,
  type Roster,
  type SharedCopy,
  type SourceRead,
  type TeamSource,
} from '../src/team/types.js';

const roster = (organizationId: string, size: number): Roster =>
  createRoster(
    organizationId,
    Array.from({ length: size }, (_, index) => ({
      membershipId: `orgmem_${index}`,
      userId: `user_${index}`,
      firstName: null,
      lastName: null,
      email: null,
      imageUrl: null,
      role: 'org:member',
      permissions: [],
      createdAt: '2026-01-01T00:00:00.000Z',
    })),
  );

/** Roster reads wait for the test: `answer(copy?)` answers the oldest one, from a shared copy when given. */
function scripted() {
  const reads: { read: SourceRead; resolve: (value: Roster) => void }[] = [];
  const source: TeamSource = {
    readRoster: (_organizationId, read = {}) => new Promise((resolve) => reads.push({ read, resolve })),
    readRosterPage: async () => {
      throw new Error('not used');
    },
    readPendingInvitations: async (organizationId) => ({ organizationId, invitations: [] }),
    readUserMemberships: async () => {
      throw new Error('not used');
    },
  };
  return {
    source,
    reads,
    /** Answers the oldest pending read; returns what the cache said to the shared copy, if one was offered. */
    answer(size: number, copy?: SharedCopy): boolean | undefined {
      const next = reads.shift();
      if (!next) throw new Error('no read pending');
      let accepted: boolean | undefined;
      if (copy) accepted = next.read.onSharedCopy?.(copy);
      else next.read.onCall?.();
      next.resolve(roster('org_1', size));
      return accepted;
    },
  };
}

const TTL = 60_000;

describe('shared copies under the cache', () => {
  it('keep the dates of the Clerk read that made them, are served as fromCache, and expire from those dates', async () => {
    let now = 1_000_000;
    const s = scripted();
    const cache = createTeamCache({ source: s.source, ttlMs: TTL, maxMembers: 1000, now: () => now });
    const reading = cache.getRoster('org_1');
    expect(s.answer(3, { fetchedAt: now - 10_000, readStartedAt: now - 10_200 })).toBe(true);
    const first = await reading;
    expect(first).toMatchObject({ fromCache: true, fetchedAt: now - 10_000, readStartedAt: now - 10_200 });

    now += TTL - 10_000 - 1; // still within the TTL counted from the copy's Clerk read
    expect((await cache.getRoster('org_1')).fetchedAt).toBe(first.fetchedAt);
    now += 2; // past it: read again
    const again = cache.getRoster('org_1');
    expect(s.reads).toHaveLength(1);
    s.answer(4);
    expect(await again).toMatchObject({ fromCache: false, fetchedAt: now });
  });

  it('are refused once an invalidation reached the read before them', async () => {
    const s = scripted();
    const cache = createTeamCache({ source: s.source, ttlMs: TTL, maxMembers: 1000 });
    await Promise.all([cache.getRoster('org_1'), Promise.resolve().then(() => s.answer(3))]);
    cache.invalidateOrganization('org_1');
    const reading = cache.getRoster('org_1');
    // The change is announced while this read is still on its way to the shared copy (which may predate it).
    cache.invalidateOrganization('org_1');
    expect(s.answer(3, { fetchedAt: Date.now(), readStartedAt: Date.now() })).toBe(false);
    await reading;
  });

  it('never answer a forced read with a copy read before its request', async () => {
    let now = 1_000_000;
    const s = scripted();
    const cache = createTeamCache({ source: s.source, ttlMs: TTL, maxMembers: 1000, now: () => now });
    const plain = cache.getRoster('org_1');
    now += 100;
    const forced = cache.getRoster('org_1', { forceRefresh: true, requestedAt: now });
    // Both wait on one read; it is answered from a copy older than the forced request.
    expect(s.reads).toHaveLength(1);
    expect(s.answer(3, { fetchedAt: now - 500, readStartedAt: now - 600 })).toBe(true);
    expect((await plain).value.members).toHaveLength(3);
    // The forced caller reads again, asking for nothing older than its request.
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.reads.map((pending) => pending.read.notBefore)).toEqual([now]);
    s.answer(5);
    expect(await forced).toMatchObject({ fromCache: false });
    expect((await forced).value.members).toHaveLength(5);
  });
});
