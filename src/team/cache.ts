/**
 * The team cache: the single owner of what the server knows about organizations and about each caller's own
 * memberships. Three kinds of entry: an organization's roster (`members`), its pending invitations
 * (`invitations`), and one user's membership list (`user_memberships`), all with the same semantics.
 *
 * This module composes it; each part is its own module under ./cache/, with the design notes for that part:
 * - types.ts: the public types (re-exported here) and the stored entry, one shape per kind;
 * - kinds.ts: one row per kind (its Clerk read, size, index keys, drift comparison), and where entries are made;
 * - storage.ts: the LRU with its size bound, the two indexes, "not found", freshness and stale grace;
 * - flight.ts, flights.ts: the single-flight layer, an explicit state machine (waiters, deadlines, detach,
 *   abandon, forced reads queued behind the one under way);
 * - reads.ts: a read through the cache, with the one stale-copy fallback;
 * - cold-pages.ts: `getRosterPage` without a fresh roster;
 * - patching.ts: webhook patches and the drift check of the read that replaces a patched copy;
 * - invalidation.ts: what an invalidation marks and detaches.
 */
import { createColdPages } from './cache/cold-pages.js';
import { createFlights } from './cache/flights.js';
import { createInvalidation } from './cache/invalidation.js';
import { createDriftCheck, createPatcher } from './cache/patching.js';
import { createReads } from './cache/reads.js';
import { createStorage, served } from './cache/storage.js';
import type { TeamCache, TeamCacheOptions } from './cache/types.js';

export {
  type CacheKind,
  type CacheObserver,
  type CacheOutcome,
  type CacheRead,
  type DeltaOutcome,
  type Drift,
  type PageRead,
  ReadAbandonedError,
  type ReadOptions,
  type TeamCache,
  type TeamCacheOptions,
  type TeamCacheStats,
} from './cache/types.js';

export function createTeamCache(options: TeamCacheOptions): TeamCache {
  // Late-bound, so a test that fakes Date (vi.setSystemTime) moves this clock too.
  const { source, ttlMs, now = () => Date.now() } = options;
  const staleGraceMs = options.staleGraceMs ?? 0;
  const observe = options.observer ? options.observer.read.bind(options.observer) : () => {};

  const storage = createStorage({
    ttlMs,
    staleGraceMs,
    maxMembers: options.maxMembers,
    notFoundTtlMs: options.notFoundTtlMs ?? 30_000,
    now,
  });
  const compareWithPatched = createDriftCheck({
    storage,
    observer: options.observer,
    onDrift: options.onDrift,
  });
  const flights = createFlights({
    source,
    now,
    store(entry, sharedCopy) {
      compareWithPatched(entry);
      storage.store(entry, sharedCopy);
    },
    notFound: storage.setNotFound,
  });
  const reads = createReads({ storage, flights, staleGraceMs, now, observe });
  const invalidation = createInvalidation({ storage, flights });
  const applyDelta = createPatcher({
    storage,
    flights,
    invalidate: invalidation.invalidate,
    clockSkewMs: options.clockSkewMs ?? 1000,
    retentionMs: ttlMs + staleGraceMs,
    now,
  });

  return {
    getRoster: (organizationId, readOptions) => reads.read('members', organizationId, readOptions),
    getRosterPage: createColdPages({ source, storage, flights, reads, now, observe }),
    getPendingInvitations: (organizationId, readOptions) =>
      reads.read('invitations', organizationId, readOptions),
    getUserMemberships: (userId, readOptions) => reads.read('user_memberships', userId, readOptions),
    peekRoster(organizationId) {
      const cached = storage.get('members', organizationId);
      if (!cached || !storage.isFresh(cached)) return undefined;
      // Counted as the hit it is: the request then serves this very snapshot without reading the cache again.
      observe('members', 'hit');
      return served(cached, true, false);
    },
    peekFreshVersion(kind, id) {
      const cached = storage.peek(kind, id);
      return cached && storage.isFresh(cached) ? cached.version : undefined;
    },
    cachedParts: (organizationId) => ({
      roster: storage.has('members', organizationId),
      invitations: storage.has('invitations', organizationId),
    }),
    ...invalidation.api,
    applyDelta,
    stats: () => ({ ...storage.stats(), inFlight: flights.size() }),
  };
}
