/**
 * Per-request view of the team cache. DataLoader memoizes each organization for the life of one request, so
 * every field of one answer (and the authorization check before it) sees one snapshot, even if an
 * invalidation lands mid-request.
 */
import DataLoader from 'dataloader';
import type { CacheRead, TeamCache } from '../team/cache.js';
import type { PendingInvitations, Roster } from '../team/types.js';

export interface TeamLoaders {
  roster(organizationId: string): Promise<CacheRead<Roster>>;
  pendingInvitations(organizationId: string): Promise<CacheRead<PendingInvitations>>;
  /** Reads past the cache and makes the result this request's snapshot. */
  refreshRoster(organizationId: string): Promise<CacheRead<Roster>>;
  refreshPendingInvitations(organizationId: string): Promise<CacheRead<PendingInvitations>>;
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
  // Built on first use: most requests touch only one of the two loaders (or none, for `viewer`).
  let loader: DataLoader<string, T> | undefined;
  const get = () => {
    // No batching window: each key is its own cache read, and waiting a tick would only add latency.
    loader ??= new DataLoader<string, T>(
      settle((key) => read(key, false)),
      { batch: false },
    );
    return loader;
  };
  return {
    load: (key: string) => get().load(key),
    async refresh(key: string) {
      const fresh = await read(key, true);
      get().clear(key).prime(key, fresh);
      return fresh;
    },
  };
}

export function createTeamLoaders(cache: TeamCache): TeamLoaders {
  const rosters = snapshotLoader((id, forceRefresh) => cache.getRoster(id, { forceRefresh }));
  const invitations = snapshotLoader((id, forceRefresh) => cache.getPendingInvitations(id, { forceRefresh }));
  return {
    roster: rosters.load,
    pendingInvitations: invitations.load,
    refreshRoster: rosters.refresh,
    refreshPendingInvitations: invitations.refresh,
  };
}
