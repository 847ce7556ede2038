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
 *
 * **Removals this replica may not have heard of**: with several replicas, a removal recorded on another
 * replica reaches this one over the Redis bus. While this replica cannot hear the bus, the bus's owner
 * (src/shared-state/) reports `unconfirmedUpTo`: evidence read from Clerk at or before it grants nothing, and a
 * token's claim (Clerk's word about a session, not about the membership now) grants nothing at all. So the records
 * answer by the kind of evidence asked about: `recorded` (what has been recorded, nothing else), `read` (evidence
 * read from Clerk), `claim` (a session token's organization).
 */
import { LRUCache } from 'lru-cache';

/** Any user, or any organization, in a record. */
export const ANY = '*';

export interface RevocationsOptions {
  /** How long a record is kept; at least the cache TTL plus its stale grace. */
  retentionMs: number;
  /** Records kept at most; past that the oldest one becomes the floor (see above). @default 100000 */
  maxRecords?: number;
  /** Injectable clock. @default a late-bound Date.now (so faked Dates move it too) */
  now?: () => number;
  /**
   * Several replicas: undefined while every removal reaches this replica; otherwise the epoch ms at or before which
   * evidence read from Clerk grants nothing (see above). @default always undefined (one process hears everything)
   */
  unconfirmedUpTo?: () => number | undefined;
}

/**
 * What a piece of evidence is, for `revokedAt`: `read` from Clerk (a roster, a membership list; dated by when the
 * read began), a session token's `claim` (dated by its `iat`), or `recorded`: only the records themselves (has a
 * removal been recorded since …?).
 */
export type EvidenceKind = 'recorded' | 'read' | 'claim';

export interface Revocations {
  /** Records that evidence from now or before no longer grants `userId` `organizationId` (`ANY` for either). */
  record(userId: string, organizationId: string): void;
  /**
   * Epoch ms of the newest record that applies to this user and organization (their own, the organization's, the
   * user's, or the floor), or 0 when none does. Evidence of `kind` dated at or before it grants nothing: for `read`
   * and `claim` that also covers what this replica cannot confirm (`Infinity` for a claim then).
   * @param kind default `recorded`
   */
  revokedAt(userId: string, organizationId: string, kind?: EvidenceKind): number;
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
    revokedAt(userId, organizationId, kind = 'recorded') {
      const floorAt = now() - floor < options.retentionMs ? floor : 0;
      const recorded = Math.max(
        floorAt,
        at(userId, organizationId),
        at(ANY, organizationId),
        at(userId, ANY),
      );
      if (kind === 'recorded') return recorded;
      const unconfirmed = options.unconfirmedUpTo?.();
      if (unconfirmed === undefined) return recorded;
      return kind === 'claim' ? Number.POSITIVE_INFINITY : Math.max(recorded, unconfirmed);
    },
    size() {
      records.purgeStale();
      return records.size;
    },
  };
}
