/**
 * Re-reads invalidated organizations in the background once a burst of webhooks settles, so the next query is
 * a cache hit with fresh data. A burst of N events for one organization costs one re-read.
 */

import { ReadAbandonedError, type TeamCache } from '../team/cache.js';
import type { TeamChangeReason } from '../team/effects.js';

/**
 * A re-read is background work: its Clerk calls wait behind every interactive one, for at most this long (then they
 * are dropped and the next query reads Clerk itself). Longer than a request's deadline, since nobody waits for it.
 */
const REFRESH_DEADLINE_MS = 10_000;

/** A re-read superseded by a newer invalidation is dropped (nobody needs its answer): not a failure. */
const ignoreAbandoned = (error: unknown) => {
  if (!(error instanceof ReadAbandonedError)) throw error;
};

export interface RefreshAhead {
  /** `reasons`: what the event said changed; a burst's reasons are handed to `onRefreshed` together. */
  schedule(
    organizationId: string,
    parts: { roster: boolean; invitations: boolean },
    reasons?: readonly TeamChangeReason[],
  ): void;
  /**
   * A change already applied to the cache (a webhook patch): nothing to re-read, but live subscribers hear of it
   * with the burst it belongs to, once the burst settles.
   */
  announce(organizationId: string, reasons: readonly TeamChangeReason[]): void;
  /**
   * Settles the organization's burst now instead of after the debounce (a team action: its caller and its live
   * subscribers should not wait for a burst that is only the action itself).
   */
  flush(organizationId: string): void;
  /** Cancels pending re-reads (shutdown). */
  stop(): void;
}

/** Live subscriptions' hooks (src/subscriptions/): both optional. */
export interface RefreshAheadHooks {
  /** Organizations whose roster is re-read even when not cached (they have live subscribers). */
  wanted?(organizationId: string): boolean;
  /**
   * Once a burst's re-read has settled (also when it failed: the change still happened), with the burst's reasons;
   * also for a burst with nothing to re-read here (another replica's subscribers may want it). Not called for
   * events without a reason.
   */
  onRefreshed?(organizationId: string, reasons: TeamChangeReason[]): void;
}

export function createRefreshAhead(
  cache: TeamCache,
  debounceMs: number,
  onError: (organizationId: string, error: unknown) => void,
  hooks: RefreshAheadHooks = {},
): RefreshAhead {
  type Parts = { roster: boolean; invitations: boolean; reasons: Set<TeamChangeReason> };
  const pending = new Map<string, Parts & { timer: NodeJS.Timeout }>();

  const refresh = (organizationId: string, parts: Parts) => {
    pending.delete(organizationId);
    const reads: Promise<unknown>[] = [];
    const background = { priority: 'background', deadline: Date.now() + REFRESH_DEADLINE_MS } as const;
    if (parts.roster) reads.push(cache.getRoster(organizationId, background).catch(ignoreAbandoned));
    if (parts.invitations) {
      reads.push(cache.getPendingInvitations(organizationId, background).catch(ignoreAbandoned));
    }
    // A failed re-read only means the next query reads Clerk itself; nothing is lost.
    Promise.all(reads)
      .catch((error: unknown) => onError(organizationId, error))
      .then(() => {
        if (parts.reasons.size > 0) hooks.onRefreshed?.(organizationId, [...parts.reasons]);
      });
  };

  const refreshAhead = {
    /** `reread: false`: a patched burst, re-read for nobody (not even live subscribers: the cache is up to date). */
    schedule(
      organizationId: string,
      parts: { roster: boolean; invitations: boolean },
      reasons: readonly TeamChangeReason[] = [],
      reread = true,
    ) {
      const roster = parts.roster || (reread && (hooks.wanted?.(organizationId) ?? false));
      if (!roster && !parts.invitations && (reasons.length === 0 || !hooks.onRefreshed)) return;
      const previous = pending.get(organizationId);
      if (previous) clearTimeout(previous.timer);
      const merged: Parts = {
        roster: roster || (previous?.roster ?? false),
        invitations: parts.invitations || (previous?.invitations ?? false),
        reasons: new Set([...(previous?.reasons ?? []), ...reasons]),
      };
      const timer = setTimeout(() => refresh(organizationId, merged), debounceMs);
      timer.unref();
      pending.set(organizationId, { timer, ...merged });
    },
    announce(organizationId: string, reasons: readonly TeamChangeReason[]) {
      refreshAhead.schedule(organizationId, { roster: false, invitations: false }, reasons, false);
    },
    flush(organizationId: string) {
      const parts = pending.get(organizationId);
      if (!parts) return;
      clearTimeout(parts.timer);
      refresh(organizationId, parts);
    },
    stop() {
      for (const { timer } of pending.values()) clearTimeout(timer);
      pending.clear();
    },
  } satisfies RefreshAhead;
  return refreshAhead;
}
