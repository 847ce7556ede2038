/**
 * Revocation records: "from this moment on, nothing older grants this user this organization". Written by the
 * webhook route when Clerk says a membership, a user or an organization is gone, before the route answers 2xx;
 * read by authorization, which ignores every piece of evidence (a cached or stale roster, a membership list, a
 * session token's organization claim) dated at or before the newest record that applies.
 *
 * A record names a user and an organization, either of which may be `*` (`ANY`): a deleted membership is
 * (user, organization), a deleted organization (`*`, organization), a deleted user (user, `*`).
 *
 * Records are kept for `retentionMs`, which must cover the oldest evidence the server may still use (the cache
 * TTL plus its stale grace): a record that outlived every piece of evidence older than itself has nothing left to
 * void. Memory is bounded by `maxRecords`. When a record has to go before its time (more than `maxRecords`
 * revocations within the retention), it is not simply forgotten, which would re-admit someone: its time becomes a
 * floor that voids everyone's evidence from before it, a spike of re-reads instead of a hole.
 */
import { LRUCache } from 'lru-cache';

/** Any user, or any organization, in a record. */
export const ANY = '*';

export interface RevocationsOptions {
  /** How long a record is kept; at least the cache TTL plus its stale grace. */
  retentionMs: number;
  /** Records kept at most; past that the oldest one becomes the floor (see above). Default 100,000. */
  maxRecords?: number;
  /** Injectable clock; defaults to a late-bound Date.now (so faked Dates move it too). */
  now?: () => number;
}

export interface Revocations {
  /** Records that evidence from now or before no longer grants `userId` `organizationId` (`ANY` for either). */
  record(userId: string, organizationId: string): void;
  /**
   * Epoch ms of the newest record that applies to this user and organization (their own, the organization's, the
   * user's, or the floor), or 0 when none does. Evidence dated at or before it grants nothing.
   */
  revokedAt(userId: string, organizationId: string): number;
  /** Records held now. */
  size(): number;
}

const keyOf = (userId: string, organizationId: string) => `${userId} ${organizationId}`;

export function createRevocations(options: RevocationsOptions): Revocations {
  const now = options.now ?? (() => Date.now());
  let floor = 0;
  const records = new LRUCache<string, number>({
    max: options.maxRecords ?? 100_000,
    ttl: options.retentionMs,
    ttlResolution: 0,
    perf: { now },
    dispose: (at, _key, reason) => {
      // Pushed out by newer records while it still mattered: everything older than it is void for everyone.
      if (reason === 'evict' && now() - at < options.retentionMs) floor = Math.max(floor, at);
    },
  });
  // `peek`, not `get`: reading a record must not keep it longer, nor protect it from eviction.
  const at = (userId: string, organizationId: string) => records.peek(keyOf(userId, organizationId)) ?? 0;

  return {
    record(userId, organizationId) {
      records.set(keyOf(userId, organizationId), now());
    },
    revokedAt(userId, organizationId) {
      const floorAt = now() - floor < options.retentionMs ? floor : 0;
      return Math.max(floorAt, at(userId, organizationId), at(ANY, organizationId), at(userId, ANY));
    },
    size() {
      records.purgeStale();
      return records.size;
    },
  };
}
