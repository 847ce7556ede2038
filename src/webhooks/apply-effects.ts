/**
 * Applies a webhook's effects to this replica: revocation records first, then patches of cached copies, then
 * invalidations, then ended sessions, and schedules the background re-reads (refresh-ahead) that keep invalidated
 * organizations warm and tell live subscribers once a burst settles. One function for every source of effects: the
 * webhook route calls it for a delivery it received, the Redis bus (src/shared-state/) for effects another replica
 * published, so every replica applies one history the same way.
 */
import type { Logger } from '../observability/logger.js';
import type { TeamCache } from '../team/cache.js';
import type { EndedSession, EventEffects, Invalidation, Patch } from '../team/effects.js';
import type { Revocations } from '../team/revocations.js';
import { createRefreshAhead, type RefreshAheadHooks } from './refresh-ahead.js';

export interface EffectApplierOptions {
  /** What is patched and invalidated, and re-read ahead. @default none: required */
  cache: TeamCache;
  /** Where removals are recorded, before anything else is applied. @default none: required */
  revocations: Revocations;
  /**
   * How long a burst of webhooks for one organization may keep growing before its one re-read
   * (WEBHOOK_REFRESH_DEBOUNCE_MS). @default none: required
   */
  refreshDebounceMs: number;
  /** Where failed background re-reads are reported. @default none: required */
  logger: Logger;
  /**
   * Live subscriptions: their organizations are re-read after webhooks even when not cached, they hear of each
   * settled burst, and of sessions Clerk ended (told before `apply` returns). @default none: no live streams
   */
  live?: RefreshAheadHooks & { sessionEnded?(session: EndedSession): void };
}

export interface EffectApplier {
  /**
   * Applies `effects` (revocations, patches, invalidations, refresh-ahead, ended sessions), synchronously. Returns
   * the organizations whose cached copies changed or were invalidated (the Redis layer drops their shared copies).
   * `effects.settleNow` (a team action's own write): live subscribers are told at once, not after the debounce.
   */
  apply(effects: EventEffects): string[];
  /** Cancels pending re-reads (shutdown). */
  close(): void;
}

export function createEffectApplier(options: EffectApplierOptions): EffectApplier {
  const { cache, revocations, logger } = options;
  const refreshAhead = createRefreshAhead(
    cache,
    options.refreshDebounceMs,
    (organizationId, error) => logger.warn('refresh-ahead read failed', { organizationId, error }),
    options.live,
  );

  /** `touched` collects the organizations invalidated. */
  function invalidate(invalidation: Invalidation, touched: Set<string>) {
    switch (invalidation.kind) {
      case 'organization': {
        const parts = cache.cachedParts(invalidation.organizationId);
        cache.invalidateOrganization(invalidation.organizationId);
        touched.add(invalidation.organizationId);
        refreshAhead.schedule(invalidation.organizationId, parts, [invalidation.reason]);
        return;
      }
      case 'user': {
        for (const organizationId of cache.invalidateUser(invalidation.userId)) {
          touched.add(organizationId);
          // Both parts were invalidated: re-read what is held, so live subscribers' events come from the cache.
          refreshAhead.schedule(organizationId, cache.cachedParts(organizationId), [invalidation.reason]);
        }
        return;
      }
      // Membership lists are re-read when their user next asks, not ahead: most are never asked for again.
      case 'userMemberships':
        cache.invalidateUserMemberships(invalidation.userId);
        return;
      case 'membershipListsOf':
        cache.invalidateMembershipListsOf(invalidation.organizationId);
        return;
      case 'all':
        // No refresh-ahead: re-reading every organization at once would flood Clerk; queries refill lazily.
        cache.invalidateAll();
        return;
    }
  }

  /**
   * A webhook's change applied to the cache; live subscribers hear of it once its burst settles. `touched` collects
   * the organizations whose cached copies changed.
   */
  function patch({ delta, reason }: Patch, touched: Set<string>) {
    const { patched, ignored, invalidated } = cache.applyDelta(delta);
    for (const organizationId of patched) {
      touched.add(organizationId);
      refreshAhead.announce(organizationId, [reason]);
    }
    // Could not tell whether the change is newer than the cached copy: as an invalidation (both parts were held).
    for (const organizationId of invalidated) {
      invalidate({ kind: 'organization', organizationId, reason }, touched);
    }
    // Not cached here: as an invalidation of nothing (live subscribers' organizations are still read and told). Its
    // shared copy, if another replica wrote one, is as old as the change: dropped too.
    if (delta.kind !== 'profile') {
      touched.add(delta.organizationId);
      if (patched.length + ignored.length + invalidated.length === 0) {
        refreshAhead.schedule(delta.organizationId, { roster: false, invitations: false }, [reason]);
      }
    }
  }

  return {
    apply(effects) {
      const touched = new Set<string>();
      // Revocations first: from here on no older evidence admits the removed member, whatever the cache holds.
      for (const { userId, organizationId } of effects.revocations)
        revocations.record(userId, organizationId);
      for (const each of effects.patches ?? []) patch(each, touched);
      for (const invalidation of effects.invalidations) invalidate(invalidation, touched);
      for (const session of effects.endedSessions ?? []) options.live?.sessionEnded?.(session);
      if (effects.settleNow) for (const organizationId of touched) refreshAhead.flush(organizationId);
      return [...touched];
    },
    close: () => refreshAhead.stop(),
  };
}
