/**
 * The team cache: the single owner of what the server knows about organizations and about each caller's own
 * memberships. Three kinds of entry: an organization's roster (`members`), its pending invitations
 * (`invitations`), and one user's membership list (`user_memberships`), all with the same semantics below.
 *
 * Entries live in an LRU (lru-cache) with a size bound counted in members. On top of it sits a single-flight
 * layer of our own: concurrent reads of one key share one Clerk read ("flight"). An invalidation *detaches* a
 * flight: callers already waiting still get the answer they asked for (their request began before the change was
 * announced), but the detached flight never stores its possibly older data, and the next caller starts a new read.
 * lru-cache's `fetch()` can detach too (with `ignoreFetchAbort`, a `delete()` during a fetch lets the waiters have
 * the late result without storing it), but that delete also drops the copy we keep after an invalidation for
 * stale-if-error, and `fetch()` has no per-flight "detached" mark to keep the not-found memory right; a small map
 * of flights says both plainly.
 *
 * Freshness: an entry is served for `ttlMs`. It is kept `staleGraceMs` longer, and served (marked stale) only when
 * Clerk fails to refresh it. An invalidation marks the entry as needing a re-read rather than deleting it, so even
 * then a Clerk outage degrades to stale data instead of errors.
 */
import { LRUCache } from 'lru-cache';
import { OrganizationNotFoundError, UpstreamRateLimitedError, UpstreamUnavailableError } from './errors.js';
import type { PendingInvitations, Roster, TeamSource, UserMemberships } from './types.js';

export interface CacheRead<T> {
  value: T;
  /** Epoch ms when this value was read from Clerk. */
  fetchedAt: number;
  /**
   * Epoch ms when the Clerk read that produced this value began: the value shows Clerk as it was at this time or
   * later. Authorization dates evidence by it, so a read that overlapped a change never counts as newer than it.
   */
  readStartedAt: number;
  /** True when served from the cache without waiting for Clerk. */
  fromCache: boolean;
  /** True when Clerk failed and an expired or invalidated copy was served instead. */
  stale: boolean;
}

export interface ReadOptions {
  /** Skip the cached value unless it is younger than the force-refresh interval (an in-flight read is shared). */
  forceRefresh?: boolean;
}

export type CacheOutcome = 'hit' | 'miss' | 'inflight' | 'stale' | 'not_found';

export interface CacheObserver {
  read(kind: CacheKind, outcome: CacheOutcome): void;
}

export interface TeamCacheOptions {
  source: TeamSource;
  ttlMs: number;
  /** How long past the TTL an entry may still be served when Clerk fails. 0 disables stale-if-error. */
  staleGraceMs?: number;
  /** How long "Clerk does not know this organization" is remembered. Default 30 s. */
  notFoundTtlMs?: number;
  /** A forced refresh reads Clerk only if the cached copy is older than this. Default 5 s. */
  forceRefreshIntervalMs?: number;
  /** Size bound in members (an invitation counts as one; an empty list as one). */
  maxMembers: number;
  observer?: CacheObserver;
  /** Injectable clock for tests of TTL logic; defaults to Date.now. */
  now?: () => number;
}

export interface TeamCacheStats {
  entries: number;
  members: number;
  inFlight: number;
}

/** Also the `part` label of the cache metrics. */
export type CacheKind = 'members' | 'invitations' | 'user_memberships';
type Value = Roster | PendingInvitations | UserMemberships;

interface Entry {
  kind: CacheKind;
  /** The organization (rosters, invitations) or the user (membership lists). */
  id: string;
  value: Value;
  fetchedAt: number;
  readStartedAt: number;
  /** Set by an invalidation: served again only if Clerk cannot be read. */
  invalidated: boolean;
}

interface Flight {
  promise: Promise<Entry>;
  /** Set when an invalidation lands while the read is under way: its result must not be stored. */
  detached: boolean;
}

export interface TeamCache {
  getRoster(organizationId: string, options?: ReadOptions): Promise<CacheRead<Roster>>;
  getPendingInvitations(
    organizationId: string,
    options?: ReadOptions,
  ): Promise<CacheRead<PendingInvitations>>;
  /** One user's own memberships (every organization they belong to). */
  getUserMemberships(userId: string, options?: ReadOptions): Promise<CacheRead<UserMemberships>>;
  /**
   * The cached roster if it is fresh (within the TTL and not invalidated), else undefined. Never reads Clerk and
   * never serves a stale copy: what authorization may look at before anyone is shown to belong.
   */
  peekRoster(organizationId: string): CacheRead<Roster> | undefined;
  /** Which parts of this organization are held (fresh or not): decides what to refresh ahead. */
  cachedParts(organizationId: string): { roster: boolean; invitations: boolean };
  invalidateOrganization(organizationId: string): void;
  /** Invalidates every cached organization whose roster holds this user; returns those organizations. */
  invalidateUser(userId: string): string[];
  /** Invalidates this user's membership list. */
  invalidateUserMemberships(userId: string): void;
  /** Invalidates every cached membership list that holds this organization (its name, count or existence changed). */
  invalidateMembershipListsOf(organizationId: string): void;
  invalidateAll(): void;
  stats(): TeamCacheStats;
}

const ORGANIZATION_KINDS: readonly CacheKind[] = ['members', 'invitations'];
const keyOf = (kind: CacheKind, id: string) => `${kind}:${id}`;
const sizeOf = (entry: Entry) =>
  Math.max(
    1,
    entry.kind === 'members'
      ? (entry.value as Roster).members.length
      : entry.kind === 'invitations'
        ? (entry.value as PendingInvitations).invitations.length
        : (entry.value as UserMemberships).memberships.length,
  );
/** Failures where an old answer beats no answer. A missing organization is not one: it is gone. */
const canServeStale = (error: unknown) =>
  error instanceof UpstreamUnavailableError || error instanceof UpstreamRateLimitedError;

export function createTeamCache(options: TeamCacheOptions): TeamCache {
  // Late-bound, so a test that fakes Date (vi.setSystemTime) moves this clock too.
  const { source, ttlMs, now = () => Date.now() } = options;
  const staleGraceMs = options.staleGraceMs ?? 0;
  const forceRefreshIntervalMs = options.forceRefreshIntervalMs ?? 5000;
  const observe = options.observer ? options.observer.read.bind(options.observer) : () => {};

  /** userId → organizations whose cached roster holds the user; kept in step with the LRU by its hooks. */
  const organizationsByUser = new Map<string, Set<string>>();
  /** organizationId → users whose cached membership list holds the organization; kept in step the same way. */
  const usersByOrganization = new Map<string, Set<string>>();
  /** The (from → to) pairs an entry adds to its index: a roster's users, or a membership list's organizations. */
  const indexOf = (entry: Entry): [Map<string, Set<string>>, Iterable<string>] | undefined =>
    entry.kind === 'members'
      ? [organizationsByUser, (entry.value as Roster).byUserId.keys()]
      : entry.kind === 'user_memberships'
        ? [usersByOrganization, (entry.value as UserMemberships).byOrganizationId.keys()]
        : undefined;
  const entries = new LRUCache<string, Entry>({
    ttl: ttlMs + staleGraceMs,
    maxSize: options.maxMembers,
    sizeCalculation: sizeOf,
    // Read the clock on every check (lru-cache otherwise reuses one reading for 1 ms); Date.now is cheap.
    ttlResolution: 0,
    perf: { now },
    onInsert: (entry) => {
      const index = indexOf(entry);
      if (!index) return;
      const [map, keys] = index;
      for (const key of keys) {
        const ids = map.get(key);
        if (ids) ids.add(entry.id);
        else map.set(key, new Set([entry.id]));
      }
    },
    dispose: (entry) => {
      const index = indexOf(entry);
      if (!index) return;
      const [map, keys] = index;
      for (const key of keys) {
        const ids = map.get(key);
        ids?.delete(entry.id);
        if (ids?.size === 0) map.delete(key);
      }
    },
  });
  /** Organizations Clerk said do not exist: probing unknown IDs must not reach Clerk every time. */
  const notFound = new LRUCache<string, true>({
    max: 10_000,
    ttl: options.notFoundTtlMs ?? 30_000,
    ttlResolution: 0,
    perf: { now },
  });
  const flights = new Map<string, Flight>();

  const isFresh = (entry: Entry) => !entry.invalidated && now() - entry.fetchedAt < ttlMs;

  const readFrom = (kind: CacheKind, id: string): Promise<Value> =>
    kind === 'members'
      ? source.readRoster(id)
      : kind === 'invitations'
        ? source.readPendingInvitations(id)
        : source.readUserMemberships(id);

  const served = (entry: Entry, fromCache: boolean, stale: boolean): CacheRead<Value> => ({
    value: entry.value,
    fetchedAt: entry.fetchedAt,
    readStartedAt: entry.readStartedAt,
    fromCache,
    stale,
  });

  function startFlight(kind: CacheKind, id: string): Flight {
    const key = keyOf(kind, id);
    const readStartedAt = now();
    const flight: Flight = {
      detached: false,
      promise: readFrom(kind, id).then(
        (value) => {
          const entry: Entry = { kind, id, value, fetchedAt: now(), readStartedAt, invalidated: false };
          if (!flight.detached) {
            entries.set(key, entry);
            flights.delete(key);
          }
          return entry;
        },
        (error: unknown) => {
          if (!flight.detached) {
            flights.delete(key);
            if (error instanceof OrganizationNotFoundError && kind !== 'user_memberships') {
              notFound.set(id, true);
              for (const each of ORGANIZATION_KINDS) entries.delete(keyOf(each, id));
            }
          }
          throw error;
        },
      ),
    };
    flights.set(key, flight);
    return flight;
  }

  async function read(kind: CacheKind, id: string, { forceRefresh = false }: ReadOptions = {}) {
    const key = keyOf(kind, id);
    if (kind !== 'user_memberships' && notFound.has(id)) {
      observe(kind, 'not_found');
      throw new OrganizationNotFoundError(id);
    }
    const cached = entries.get(key);
    if (cached && isFresh(cached) && (!forceRefresh || now() - cached.fetchedAt < forceRefreshIntervalMs)) {
      observe(kind, 'hit');
      return served(cached, true, false);
    }
    const joined = flights.get(key);
    observe(kind, joined ? 'inflight' : 'miss');
    const flight = joined ?? startFlight(kind, id);
    try {
      return served(await flight.promise, false, false);
    } catch (error) {
      if (cached && staleGraceMs > 0 && canServeStale(error)) {
        observe(kind, 'stale');
        return served(cached, true, true);
      }
      throw error;
    }
  }

  /** Marks one entry as needing a re-read (kept for stale-if-error) and detaches its read in flight. */
  function invalidate(kind: CacheKind, id: string) {
    const key = keyOf(kind, id);
    const entry = entries.peek(key);
    if (entry) entry.invalidated = true;
    detach(key);
  }

  /** Detaches every read in flight of one kind: used when any of them may hold what just changed. */
  function detachAll(kind: CacheKind) {
    const prefix = `${kind}:`;
    for (const key of [...flights.keys()]) if (key.startsWith(prefix)) detach(key);
  }

  function detach(key: string) {
    const flight = flights.get(key);
    if (flight) {
      flight.detached = true;
      flights.delete(key);
    }
  }

  function invalidateOrganization(organizationId: string) {
    notFound.delete(organizationId);
    for (const kind of ORGANIZATION_KINDS) invalidate(kind, organizationId);
  }

  return {
    getRoster: (organizationId, readOptions) =>
      read('members', organizationId, readOptions) as Promise<CacheRead<Roster>>,
    getPendingInvitations: (organizationId, readOptions) =>
      read('invitations', organizationId, readOptions) as Promise<CacheRead<PendingInvitations>>,
    getUserMemberships: (userId, readOptions) =>
      read('user_memberships', userId, readOptions) as Promise<CacheRead<UserMemberships>>,
    peekRoster(organizationId) {
      const cached = entries.get(keyOf('members', organizationId));
      if (!cached || !isFresh(cached)) return undefined;
      // Counted as the hit it is: the request then serves this very snapshot without reading the cache again.
      observe('members', 'hit');
      return served(cached, true, false) as CacheRead<Roster>;
    },
    cachedParts: (organizationId) => ({
      roster: entries.has(keyOf('members', organizationId)),
      invitations: entries.has(keyOf('invitations', organizationId)),
    }),
    invalidateOrganization,
    invalidateUser(userId) {
      const organizations = [...(organizationsByUser.get(userId) ?? [])];
      for (const organizationId of organizations) invalidateOrganization(organizationId);
      // A roster read under way may hold the user's old data, and we cannot know until it returns: detach all.
      detachAll('members');
      return organizations;
    },
    invalidateUserMemberships: (userId) => invalidate('user_memberships', userId),
    invalidateMembershipListsOf(organizationId) {
      for (const userId of [...(usersByOrganization.get(organizationId) ?? [])]) {
        invalidate('user_memberships', userId);
      }
      // Same reasoning as invalidateUser: any list under way may include this organization as it was.
      detachAll('user_memberships');
    },
    invalidateAll() {
      for (const entry of entries.values()) entry.invalidated = true;
      notFound.clear();
      for (const key of [...flights.keys()]) detach(key);
    },
    stats: () => ({ entries: entries.size, members: entries.calculatedSize, inFlight: flights.size }),
  };
}
