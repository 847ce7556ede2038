/**
 * The second level under the team cache, as a `TeamSource` decorator: the cache stays the single owner of what
 * this replica knows and asks its source as before; this source answers a local miss from Redis when another
 * replica has read the entry recently, and otherwise makes sure only one replica reads Clerk for it at a time.
 *
 * A read, in order:
 * 1. the copy in Redis, if fresh: handed to the cache through `SourceRead.onSharedCopy` with the dates of the Clerk
 *    read that made it (so the answer says `fromCache: true`, and the TTL and authorization see its real age). A
 *    forced read (`notBefore`) takes only a copy read from Clerk since then. If the cache refuses the copy (an
 *    invalidation reached this read first), Clerk is read directly, and nothing is written.
 * 2. else the entry's lease (`single-flight.ts`): the holder reads Clerk and writes the copy if nobody invalidated
 *    the entry meanwhile; every other replica waits for the lease's notice, bounded by the read's deadline and
 *    abort signal and by the lease's lifetime (a dead holder's lease expires, and a waiter takes over), then
 *    starts again at 1.
 * Redis down or slow at any step: Clerk is read directly, as without Redis.
 */
import type { CacheKind } from '../team/cache.js';
import type { PendingInvitations, Roster, SourceRead, TeamSource, UserMemberships } from '../team/types.js';
import { type CopyValue, type DecodedCopy, encodeCopy } from './codec.js';
import type { RedisConnection } from './connection.js';
import type { CopyStore } from './copies.js';
import type { ClusterSingleFlight } from './single-flight.js';

/** How a shared read went, for /metrics. */
export type SharedReadOutcome =
  /** Answered from a copy another replica wrote. */
  | 'hit'
  /** This replica held the lease and read Clerk. */
  | 'lead'
  /** Redis was down or failed: Clerk read directly. */
  | 'bypass'
  /** The cache refused a copy (an invalidation came first): Clerk read directly. */
  | 'refused';

export interface SharedSourceOptions {
  inner: TeamSource;
  connection: RedisConnection;
  copies: CopyStore;
  flight: ClusterSingleFlight;
  /** How long a copy is fresh: the cache TTL. */
  ttlMs: number;
  /** A waiter looks again at least this often (a lost notice, a dead holder). */
  leaseMs: number;
  observe?(kind: CacheKind, outcome: SharedReadOutcome): void;
  /** A step failed on Redis (the read went on without it). */
  failed?(error: unknown): void;
}

export function createSharedSource(options: SharedSourceOptions): TeamSource {
  const { inner, connection, copies, flight, ttlMs, leaseMs } = options;
  const observe = options.observe ?? (() => {});
  const failed = options.failed ?? (() => {});

  const readInner = (kind: CacheKind, id: string, read: SourceRead): Promise<CopyValue> =>
    kind === 'members'
      ? inner.readRoster(id, read)
      : kind === 'invitations'
        ? inner.readPendingInvitations(id, read)
        : inner.readUserMemberships(id, read);

  const bypass = (kind: CacheKind, id: string, read: SourceRead, error?: unknown) => {
    if (error !== undefined) failed(error);
    observe(kind, 'bypass');
    return readInner(kind, id, read);
  };

  /** Reads Clerk under the lease and shares the result if the lease still holds. */
  async function lead(
    kind: CacheKind,
    id: string,
    read: SourceRead,
    lease: NonNullable<Awaited<ReturnType<ClusterSingleFlight['take']>>>,
  ) {
    observe(kind, 'lead');
    let startedAt: number | undefined;
    let value: CopyValue;
    try {
      value = await readInner(kind, id, {
        ...read,
        onCall() {
          startedAt ??= Date.now();
          read.onCall?.();
        },
      });
    } catch (error) {
      lease.release().catch(failed);
      throw error;
    }
    const fetchedAt = Date.now();
    // Not awaited: the answer does not wait for Redis; waiters wake on the write's notice.
    lease
      .write(encodeCopy(kind, value, { fetchedAt, readStartedAt: startedAt ?? fetchedAt }), ttlMs)
      .catch(failed);
    return value;
  }

  async function read(kind: CacheKind, id: string, read: SourceRead = {}): Promise<CopyValue> {
    const forced = read.notBefore;
    for (;;) {
      if (read.signal?.aborted) throw read.signal.reason;
      if (!connection.isUp()) return bypass(kind, id, read);
      let copy: DecodedCopy | undefined;
      try {
        copy = await copies.get(kind, id);
      } catch (error) {
        return bypass(kind, id, read, error);
      }
      if (copy && (forced === undefined || copy.readStartedAt >= forced)) {
        if (read.onSharedCopy && !read.onSharedCopy(copy)) {
          observe(kind, 'refused');
          return readInner(kind, id, read);
        }
        observe(kind, 'hit');
        return copy.value;
      }
      let lease: Awaited<ReturnType<ClusterSingleFlight['take']>>;
      try {
        lease = await flight.take(kind, id, forced !== undefined);
      } catch (error) {
        return bypass(kind, id, read, error);
      }
      if (lease) return lead(kind, id, read, lease);
      // Another replica reads it: wait for its notice, no longer than the read may wait nor than a lease lives.
      const until = Math.min(read.deadline ?? Number.POSITIVE_INFINITY, Date.now() + leaseMs);
      if (until <= Date.now()) return readInner(kind, id, read); // past the deadline: the upstream refuses it
      await flight.waitForNotice(flight.keyOf(kind, id), until - Date.now(), read.signal);
    }
  }

  return {
    readRoster: (id, options) => read('members', id, options) as Promise<Roster>,
    // A single page is what a cold request deeper than the first Clerk page costs: its own call, never shared.
    readRosterPage: (id, page, options) => inner.readRosterPage(id, page, options),
    readPendingInvitations: (id, options) => read('invitations', id, options) as Promise<PendingInvitations>,
    readUserMemberships: (id, options) => read('user_memberships', id, options) as Promise<UserMemberships>,
  };
}
