/**
 * What an answer was built from: every team-cache read one GraphQL request makes, recorded by a thin view of the
 * cache that its loaders read through. A prepared response is valid while the cache's fresh entry for each of
 * these still has the version the answer was built from (the cache numbers every value it stores).
 *
 * Versions, not the values: a value can be a whole roster snapshot (megabytes on a big organization), and a
 * prepared answer of a few hundred bytes must keep nothing alive but itself. Weak references would do too, but
 * cost a WeakRef per read and a GC-dependent answer to "is it current"; a number costs 8 bytes and is exact.
 */
import type { CacheKind, CacheRead, ReadOptions, TeamCache } from '../team/cache.js';

export interface RecordedRead {
  kind: CacheKind;
  /** The organization (rosters, invitations) or the user (membership lists). */
  id: string;
  /** The value's version (`CacheRead.version`). */
  version: number;
}

/** One request's reads; created by the fast path for a request whose answer may be prepared. */
export interface Recording {
  reads: RecordedRead[];
  /**
   * False once anything makes the answer unfit to replay: a read not served from a fresh cached copy (a replay
   * would claim `fromCache: true` the first answer did not, or hide that it was stale), a forced read, a failed
   * read, or a roster authorization found no fresh copy of (its evidence then came from elsewhere).
   */
  replayable: boolean;
  /** Set when execution finished without errors (errors are never replayed). */
  executed: boolean;
  /**
   * Epoch ms after which the answer is no longer true whatever the cache holds: the earliest expiry of a pending
   * invitation it read (Clerk sends no webhook when one expires; the answer stops listing it then).
   */
  validUntil: number;
}

export const newRecording = (): Recording => ({
  reads: [],
  replayable: true,
  executed: false,
  validUntil: Number.POSITIVE_INFINITY,
});

/** The cache as seen by one request, noting each read in `recording`. */
export function recordingCache(cache: TeamCache, recording: Recording): TeamCache {
  const note = <T>(kind: CacheKind, id: string, options: ReadOptions | undefined) => ({
    done(read: CacheRead<T>): CacheRead<T> {
      if (options?.forceRefresh || !read.fromCache || read.stale) recording.replayable = false;
      recording.reads.push({ kind, id, version: read.version });
      return read;
    },
    failed(error: unknown): never {
      recording.replayable = false;
      throw error;
    },
  });
  // Fail-safe: any other method a request calls (a read this view does not know, e.g. one added to the cache
  // later) makes the answer unfit to replay, instead of letting it depend on data nobody checks.
  const unknown: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(cache)) {
    if (typeof method !== 'function') continue;
    unknown[name] = (...args: unknown[]) => {
      recording.replayable = false;
      return (method as (...args: unknown[]) => unknown)(...args);
    };
  }
  return {
    ...(unknown as unknown as TeamCache),
    getRoster(organizationId, options) {
      const read = note<Awaited<ReturnType<TeamCache['getRoster']>>['value']>(
        'members',
        organizationId,
        options,
      );
      return cache.getRoster(organizationId, options).then(read.done, read.failed);
    },
    // A warm roster answers a page from the whole roster (recorded like getRoster); a cold page never is replayable.
    getRosterPage(organizationId, page, options) {
      const read = note<Awaited<ReturnType<TeamCache['getRoster']>>['value']>(
        'members',
        organizationId,
        options,
      );
      return cache.getRosterPage(organizationId, page, options).then((answer) => {
        if (answer.roster) return { roster: read.done(answer.roster) };
        recording.replayable = false;
        return answer;
      }, read.failed);
    },
    getPendingInvitations(organizationId, options) {
      const read = note<Awaited<ReturnType<TeamCache['getPendingInvitations']>>['value']>(
        'invitations',
        organizationId,
        options,
      );
      return cache.getPendingInvitations(organizationId, options).then((answer) => {
        for (const invitation of answer.value.invitations) {
          const expiresAt = invitation.expiresAt === null ? Number.NaN : Date.parse(invitation.expiresAt);
          if (expiresAt < recording.validUntil) recording.validUntil = expiresAt;
        }
        return read.done(answer);
      }, read.failed);
    },
    getUserMemberships(userId, options) {
      const read = note<Awaited<ReturnType<TeamCache['getUserMemberships']>>['value']>(
        'user_memberships',
        userId,
        options,
      );
      return cache.getUserMemberships(userId, options).then(read.done, read.failed);
    },
    peekRoster(organizationId) {
      const roster = cache.peekRoster(organizationId);
      if (roster) recording.reads.push({ kind: 'members', id: organizationId, version: roster.version });
      else recording.replayable = false;
      return roster;
    },
  };
}

/**
 * The reads without repeats (a roster peeked by authorization and then read by the resolver is one input);
 * undefined when one entry was seen in two versions within the request (it cannot be current twice).
 */
export function distinctReads(reads: readonly RecordedRead[]): RecordedRead[] | undefined {
  const byKey = new Map<string, RecordedRead>();
  for (const read of reads) {
    const key = `${read.kind}:${read.id}`;
    const seen = byKey.get(key);
    if (seen && seen.version !== read.version) return undefined;
    byKey.set(key, read);
  }
  return [...byKey.values()];
}
