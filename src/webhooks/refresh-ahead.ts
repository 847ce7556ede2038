/**
 * Re-reads invalidated organizations in the background once a burst of webhooks settles, so the next query is
 * a cache hit with fresh data. A burst of N events for one organization costs one re-read.
 */
import type { TeamCache } from '../team/cache.js';

export interface RefreshAhead {
  schedule(organizationId: string, parts: { roster: boolean; invitations: boolean }): void;
  /** Cancels pending re-reads (shutdown). */
  stop(): void;
}

export function createRefreshAhead(
  cache: TeamCache,
  debounceMs: number,
  onError: (organizationId: string, error: unknown) => void,
): RefreshAhead {
  const pending = new Map<string, { timer: NodeJS.Timeout; roster: boolean; invitations: boolean }>();

  const refresh = (organizationId: string, parts: { roster: boolean; invitations: boolean }) => {
    pending.delete(organizationId);
    const reads: Promise<unknown>[] = [];
    if (parts.roster) reads.push(cache.getRoster(organizationId));
    if (parts.invitations) reads.push(cache.getPendingInvitations(organizationId));
    // A failed re-read only means the next query reads Clerk itself; nothing is lost.
    Promise.all(reads).catch((error: unknown) => onError(organizationId, error));
  };

  return {
    schedule(organizationId, parts) {
      if (!parts.roster && !parts.invitations) return;
      const previous = pending.get(organizationId);
      if (previous) clearTimeout(previous.timer);
      const merged = {
        roster: parts.roster || (previous?.roster ?? false),
        invitations: parts.invitations || (previous?.invitations ?? false),
      };
      const timer = setTimeout(() => refresh(organizationId, merged), debounceMs);
      timer.unref();
      pending.set(organizationId, { timer, ...merged });
    },
    stop() {
      for (const { timer } of pending.values()) clearTimeout(timer);
      pending.clear();
    },
  };
}
