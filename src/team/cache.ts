/**
 * The team cache: the single owner of what the server knows about organizations.
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
import type { PendingInvitations, Roster, TeamSource } from './types.js';

export interface CacheRead<T> {
  value: T;
  /** Epoch ms when this value was read from Clerk. */
  fetchedAt: number;
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
  read(kind: Kind, outcome: CacheOutcome): void;
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

type Kind = 'members' | 'invitations';
type Value = Roster | PendingInvitations;

interface Entry {
  kind: Kind;
  organizationId: string;
  value: Value;
  fetchedAt: number;
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
  /** Which parts of this organization are held (fresh or not): decides what to refresh ahead. */
  cachedParts(organizationId: string): { roster: boolean; invitations: boolean };
  invalidateOrganization(organizationId: string): void;
  /** Invalidates every cached organization whose roster holds this user; returns those organizations. */
  invalidateUser(userId: string): string[];
  invalidateAll(): void;
  stats(): TeamCacheStats;
}

const KINDS: readonly Kind[] = ['members', 'invitations'];
const keyOf = (kind: Kind, organizationId: string) => `${kind}:${organizationId}`;
const sizeOf = (entry: Entry) =>
  Math.max(
    1,
    entry.kind === 'members'
      ? (entry.value as Roster).members.length
      : (entry.value as PendingInvitations).invitations.length,
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
  const entries = new LRUCache<string, Entry>({
    ttl: ttlMs + staleGraceMs,
    maxSize: options.maxMembers,
    sizeCalculation: sizeOf,
    // Read the clock on every check (lru-cache otherwise reuses one reading for 1 ms); Date.now is cheap.
    ttlResolution: 0,
    perf: { now },
    onInsert: (entry) => {
      if (entry.kind !== 'members') return;
      for (const userId of (entry.value as Roster).byUserId.keys()) {
        const organizations = organizationsByUser.get(userId);
        if (organizations) organizations.add(entry.organizationId);
        else organizationsByUser.set(userId, new Set([entry.organizationId]));
      }
    },
    dispose: (entry) => {
      if (entry.kind !== 'members') return;
      for (const userId of (entry.value as Roster).byUserId.keys()) {
        const organizations = organizationsByUser.get(userId);
        organizations?.delete(entry.organizationId);
        if (organizations?.size === 0) organizationsByUser.delete(userId);
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

  function startFlight(kind: Kind, organizationId: string): Flight {
    const key = keyOf(kind, organizationId);
    const read: Promise<Value> =
      kind === 'members' ? source.readRoster(organizationId) : source.readPendingInvitations(organizationId);
    const flight: Flight = {
      detached: false,
      promise: read.then(
        (value) => {
          const entry: Entry = { kind, organizationId, value, fetchedAt: now(), invalidated: false };
          if (!flight.detached) {
            entries.set(key, entry);
            flights.delete(key);
          }
          return entry;
        },
        (error: unknown) => {
          if (!flight.detached) {
            flights.delete(key);
            if (error instanceof OrganizationNotFoundError) {
              notFound.set(organizationId, true);
              for (const each of KINDS) entries.delete(keyOf(each, organizationId));
            }
          }
          throw error;
        },
      ),
    };
    flights.set(key, flight);
    return flight;
  }

  async function read(kind: Kind, organizationId: string, { forceRefresh = false }: ReadOptions = {}) {
    const key = keyOf(kind, organizationId);
    if (notFound.has(organizationId)) {
      observe(kind, 'not_found');
      throw new OrganizationNotFoundError(organizationId);
    }
    const cached = entries.get(key);
    if (cached && isFresh(cached) && (!forceRefresh || now() - cached.fetchedAt < forceRefreshIntervalMs)) {
      observe(kind, 'hit');
      return { value: cached.value, fetchedAt: cached.fetchedAt, fromCache: true, stale: false };
    }
    const joined = flights.get(key);
    observe(kind, joined ? 'inflight' : 'miss');
    const flight = joined ?? startFlight(kind, organizationId);
    try {
      const entry = await flight.promise;
      return { value: entry.value, fetchedAt: entry.fetchedAt, fromCache: false, stale: false };
    } catch (error) {
      if (cached && staleGraceMs > 0 && canServeStale(error)) {
        observe(kind, 'stale');
        return { value: cached.value, fetchedAt: cached.fetchedAt, fromCache: true, stale: true };
      }
      throw error;
    }
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
    for (const kind of KINDS) {
      const key = keyOf(kind, organizationId);
      const entry = entries.peek(key);
      if (entry) entry.invalidated = true;
      detach(key);
    }
  }

  return {
    getRoster: (organizationId, readOptions) =>
      read('members', organizationId, readOptions) as Promise<CacheRead<Roster>>,
    getPendingInvitations: (organizationId, readOptions) =>
      read('invitations', organizationId, readOptions) as Promise<CacheRead<PendingInvitations>>,
    cachedParts: (organizationId) => ({
      roster: entries.has(keyOf('members', organizationId)),
      invitations: entries.has(keyOf('invitations', organizationId)),
    }),
    invalidateOrganization,
    invalidateUser(userId) {
      const organizations = [...(organizationsByUser.get(userId) ?? [])];
      for (const organizationId of organizations) invalidateOrganization(organizationId);
      // A roster read under way may hold the user's old data, and we cannot know until it returns: detach all.
      for (const key of [...flights.keys()]) if (key.startsWith('members:')) detach(key);
      return organizations;
    },
    invalidateAll() {
      for (const entry of entries.values()) entry.invalidated = true;
      notFound.clear();
      for (const key of [...flights.keys()]) detach(key);
    },
    stats: () => ({ entries: entries.size, members: entries.calculatedSize, inFlight: flights.size }),
  };
}
