/**
 * Per-request view of the team cache. DataLoader memoizes each organization (and the caller's membership list) for
 * the life of one request, so every field of one answer (and the authorization check before it) sees one
 * snapshot, even if an invalidation lands mid-request. Every read carries the request's arrival time and deadline
 * and the caller's user ID down to the cache (and from there to each Clerk call).
 */
import DataLoader from 'dataloader';
import type { TeamEvidence } from '../auth/access.js';
import { spanEvent } from '../observability/tracing.js';
import type { CacheRead, PageRead, ReadOptions, TeamCache } from '../team/cache.js';
import type { PendingInvitations, Roster } from '../team/types.js';

/** Authorization's reads (`TeamEvidence`: the roster it peeks, the caller's membership list) and the answer's. */
export interface TeamLoaders extends TeamEvidence {
  roster(organizationId: string): Promise<CacheRead<Roster>>;
  /**
   * One page in Clerk's order: from this request's roster snapshot if it has one, else from the cache, which answers
   * a cold page in about one Clerk call (a whole roster it serves becomes this request's snapshot).
   */
  rosterPage(organizationId: string, page: { limit: number; offset: number }): Promise<PageRead>;
  pendingInvitations(organizationId: string): Promise<CacheRead<PendingInvitations>>;
  /** Data from a Clerk read begun after this request arrived (`forceRefresh`), made this request's snapshot. */
  refreshRoster(organizationId: string): Promise<CacheRead<Roster>>;
  refreshPendingInvitations(organizationId: string): Promise<CacheRead<PendingInvitations>>;
}

/** What every cache read of one GraphQL request carries. */
export interface RequestReads {
  /** When the request arrived (epoch ms): `forceRefresh` is served by a Clerk read begun at or after it. */
  requestedAt: number;
  /** When the request stops waiting for Clerk (epoch ms): arrival + `REQUEST_DEADLINE_MS`. */
  deadline?: number;
  /** The viewer's user ID: the fairness key toward Clerk. */
  caller?: string;
}

/** DataLoader wants per-key results with errors as values, not a rejected batch. */
const settle =
  <T>(read: (key: string) => Promise<T>) =>
  (keys: readonly string[]) =>
    Promise.all(
      keys.map((key) =>
        read(key).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      ),
    );

function snapshotLoader<T>(read: (key: string, forceRefresh: boolean) => Promise<T>) {
  // Built on first use: most requests touch only some of the loaders (or none, for `viewer { userId }`).
  let loader: DataLoader<string, T> | undefined;
  /** Keys this request has a snapshot of (or one on the way). */
  const held = new Set<string>();
  const get = () => {
    // No batching window: each key is its own cache read, and waiting a tick would only add latency.
    loader ??= new DataLoader<string, T>(
      settle((key) => read(key, false)),
      { batch: false },
    );
    return loader;
  };
  return {
    load(key: string) {
      held.add(key);
      return get().load(key);
    },
    has: (key: string) => held.has(key),
    prime(key: string, value: T) {
      held.add(key);
      get().prime(key, value);
    },
    /** `reading`: the forced read, when it needs options of its own. */
    async refresh(key: string, reading: () => Promise<T> = () => read(key, true)) {
      const fresh = await reading();
      held.add(key);
      get().clear(key).prime(key, fresh);
      return fresh;
    },
  };
}

/** `request`: the request's arrival, deadline and caller; without it, reads begin now and wait without a deadline. */
export function createTeamLoaders(
  cache: TeamCache,
  request: RequestReads = { requestedAt: Date.now() },
): TeamLoaders {
  const base: ReadOptions = { ...request, priority: 'interactive' };
  const forced: ReadOptions = { ...base, forceRefresh: true };
  const rosters = snapshotLoader((id, force) => cache.getRoster(id, force ? forced : base));
  const invitations = snapshotLoader((id, force) => cache.getPendingInvitations(id, force ? forced : base));
  const memberships = snapshotLoader((id, force) => cache.getUserMemberships(id, force ? forced : base));
  /** Cold pages this request read, so aliases of one page share its read. */
  const pages = new Map<string, Promise<PageRead>>();
  return {
    roster: rosters.load,
    rosterPage(organizationId, page) {
      if (rosters.has(organizationId)) {
        return rosters.load(organizationId).then((roster) => ({ roster }));
      }
      const key = `${organizationId} ${page.offset} ${page.limit}`;
      let reading = pages.get(key);
      if (!reading) {
        reading = cache.getRosterPage(organizationId, page, base).then((read) => {
          // The cache answered one Clerk page while the whole roster is read behind it.
          if (read.page)
            spanEvent('cache.read', { 'team.cache.part': 'members', 'team.cache.outcome': 'cold_page' });
          if (read.roster && !rosters.has(organizationId)) rosters.prime(organizationId, read.roster);
          return read;
        });
        pages.set(key, reading);
      }
      return reading;
    },
    pendingInvitations: invitations.load,
    refreshRoster: rosters.refresh,
    refreshPendingInvitations: invitations.refresh,
    userMemberships: memberships.load,
    refreshUserMemberships: (userId, since) =>
      memberships.refresh(userId, () =>
        cache.getUserMemberships(userId, {
          ...forced,
          requestedAt: Math.max(forced.requestedAt ?? 0, since ?? 0),
        }),
      ),
    async peekRoster(organizationId) {
      if (rosters.has(organizationId)) {
        // This request already holds (or is reading) a snapshot: that one, whatever it turns out to be.
        const snapshot = await rosters.load(organizationId).catch(() => undefined);
        return snapshot && !snapshot.stale ? snapshot : undefined;
      }
      const fresh = cache.peekRoster(organizationId);
      if (fresh) rosters.prime(organizationId, fresh);
      return fresh;
    },
  };
}
