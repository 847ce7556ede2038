/**
 * Per-request view of the team cache. DataLoader memoizes each organization (and the caller's membership list) for
 * the life of one request, so every field of one answer (and the authorization check before it) sees one
 * snapshot, even if an invalidation lands mid-request.
 */
import DataLoader from 'dataloader';
import type { CacheRead, TeamCache } from '../team/cache.js';
import type { PendingInvitations, Roster, UserMemberships } from '../team/types.js';

export interface TeamLoaders {
  roster(organizationId: string): Promise<CacheRead<Roster>>;
  pendingInvitations(organizationId: string): Promise<CacheRead<PendingInvitations>>;
  /** Reads past the cache and makes the result this request's snapshot. */
  refreshRoster(organizationId: string): Promise<CacheRead<Roster>>;
  refreshPendingInvitations(organizationId: string): Promise<CacheRead<PendingInvitations>>;
  /** A user's own membership list (in practice only the caller's). */
  userMemberships(userId: string): Promise<CacheRead<UserMemberships>>;
  /**
   * This request's roster snapshot if it already has one, else the cache's copy if it is fresh (which then becomes
   * this request's snapshot); undefined otherwise. Never reads Clerk: authorization looks here first.
   */
  peekRoster(organizationId: string): Promise<CacheRead<Roster> | undefined>;
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
    async refresh(key: string) {
      const fresh = await read(key, true);
      held.add(key);
      get().clear(key).prime(key, fresh);
      return fresh;
    },
  };
}

export function createTeamLoaders(cache: TeamCache): TeamLoaders {
  const rosters = snapshotLoader((id, forceRefresh) => cache.getRoster(id, { forceRefresh }));
  const invitations = snapshotLoader((id, forceRefresh) => cache.getPendingInvitations(id, { forceRefresh }));
  const memberships = snapshotLoader((id, forceRefresh) => cache.getUserMemberships(id, { forceRefresh }));
  return {
    roster: rosters.load,
    pendingInvitations: invitations.load,
    refreshRoster: rosters.refresh,
    refreshPendingInvitations: invitations.refresh,
    userMemberships: memberships.load,
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
