/**
 * **Patches** (`applyDelta`): a webhook's change is applied to the cached roster or invitations as a new snapshot
 * (../deltas.ts decides, with versions and tombstones, whether it is newer than what is held); an organization not
 * cached changes nothing. A read under way is detached as by an invalidation (it may hold the state before the
 * change), and what cannot be decided invalidates. The full read that replaces a patched entry (TTL, forced) is
 * compared with it: a difference is *drift*, reported through `onDrift`.
 */
import { LRUCache } from 'lru-cache';
import {
  applyToInvitations,
  applyToRoster,
  type Delta,
  type ProfileChange,
  type Verdict,
} from '../deltas.js';
import type { Flights } from './flights.js';
import { KINDS, newEntry } from './kinds.js';
import type { Storage } from './storage.js';
import type {
  CacheKind,
  DeltaOutcome,
  Drift,
  EntryOf,
  OrganizationKind,
  TeamCacheOptions,
  ValueOf,
} from './types.js';

/** How many IDs a drift report lists of each kind (a log line, not a dump). */
const DRIFT_SAMPLE = 20;

export interface DriftCheckOptions extends Pick<TeamCacheOptions, 'observer' | 'onDrift'> {
  storage: Storage;
}

/** Drift: the full read replacing a patched copy (not invalidated since) should hold exactly what it held. */
export function createDriftCheck({ storage, observer, onDrift }: DriftCheckOptions) {
  return function compareWithPatched<K extends CacheKind>(entry: EntryOf<K>) {
    const previous = storage.takeReplaced(entry.kind, entry.id);
    if (!previous?.patch?.patched || previous.invalidated) return;
    const found = KINDS[entry.kind].differences?.(entry.value, previous.value);
    if (!found) return;
    observer?.drift?.(entry.kind);
    const changed = Object.entries(found.changed);
    const drift: Drift = {
      kind: entry.kind,
      organizationId: entry.id,
      missing: found.missing.slice(0, DRIFT_SAMPLE),
      unexpected: found.unexpected.slice(0, DRIFT_SAMPLE),
      changed: Object.fromEntries(changed.slice(0, DRIFT_SAMPLE)),
      order: found.order,
      counts: { missing: found.missing.length, unexpected: found.unexpected.length, changed: changed.length },
    };
    onDrift?.(drift);
  };
}

export interface PatcherOptions {
  storage: Storage;
  flights: Flights;
  /** Marks an entry for a re-read and detaches its read under way (a patch that cannot be decided). */
  invalidate(kind: CacheKind, id: string): void;
  /** See `TeamCacheOptions.clockSkewMs`. */
  clockSkewMs: number;
  /** How long a cached copy may live (TTL + stale grace): as long as a recent profile change is remembered. */
  retentionMs: number;
  now: () => number;
}

export function createPatcher({
  storage,
  flights,
  invalidate,
  clockSkewMs,
  retentionMs,
  now,
}: PatcherOptions) {
  /**
   * The latest `user.updated` per user, for memberships delivered after it (a cached roster may not have held the
   * user when it came). As long as a cached copy may live; past the bound, the TTL re-read reconciles.
   */
  const recentProfiles = new LRUCache<string, ProfileChange>({
    max: 10_000,
    ttl: retentionMs,
    ttlResolution: 0,
    perf: { now },
  });

  const base = (entry: EntryOf<OrganizationKind>) => ({ readStartedAt: entry.readStartedAt, clockSkewMs });

  /**
   * Stores a patched snapshot in place of the entry: same age (the TTL still counts from the full read). A roster
   * patch touches one user (`userId`): the user → organizations index is updated for them alone.
   */
  function patch<K extends OrganizationKind>(
    entry: EntryOf<K>,
    verdict: Verdict<ValueOf<K>>,
    outcome: DeltaOutcome,
    userId?: string,
  ) {
    if (verdict.kind === 'ignored') {
      outcome.ignored.push(entry.id);
      return;
    }
    if (verdict.kind === 'ambiguous') {
      invalidate(entry.kind, entry.id);
      outcome.invalidated.push(entry.id);
      return;
    }
    entry.patch.patched = true;
    storage.storePatched(newEntry(entry.kind, entry.id, verdict.value, entry, entry.patch), userId);
    outcome.patched.push(entry.id);
  }

  return function applyDelta(delta: Delta): DeltaOutcome {
    const outcome: DeltaOutcome = { patched: [], ignored: [], invalidated: [] };
    if (delta.kind === 'profile') {
      const previous = recentProfiles.get(delta.userId);
      if (!previous || previous.version < delta.version) recentProfiles.set(delta.userId, delta);
      // Reads under way may hold the user as they were: the same precise rule as a user invalidation.
      flights.markUserInvalidated(delta.userId);
      for (const organizationId of storage.organizationsOf(delta.userId)) {
        const entry = storage.peek('members', organizationId);
        if (!entry) continue;
        patch(entry, applyToRoster(entry.value, entry.patch, delta, base(entry)), outcome);
      }
      return outcome;
    }
    const kind = delta.kind === 'memberUpsert' || delta.kind === 'memberRemoval' ? 'members' : 'invitations';
    // A webhook about the organization says it exists (its organization.created may come later).
    storage.forgetNotFound(delta.organizationId);
    // A read under way may hold the state before this change: its answer goes to its waiters, never stored.
    const flight = flights.find(kind, delta.organizationId);
    if (flight) flights.detach(flight);
    if (delta.kind === 'memberUpsert' || delta.kind === 'memberRemoval') {
      const entry = storage.peek('members', delta.organizationId);
      if (!entry) return outcome;
      const userId = delta.kind === 'memberUpsert' ? delta.member.userId : delta.userId;
      const known = delta.kind === 'memberUpsert' ? recentProfiles.get(userId) : undefined;
      patch(entry, applyToRoster(entry.value, entry.patch, delta, base(entry), known), outcome, userId);
    } else {
      const entry = storage.peek('invitations', delta.organizationId);
      if (!entry) return outcome;
      patch(entry, applyToInvitations(entry.value, entry.patch, delta, base(entry)), outcome);
    }
    return outcome;
  };
}
