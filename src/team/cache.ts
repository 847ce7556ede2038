/**
 * The team cache: the single owner of what the server knows about organizations and about each caller's own
 * memberships. Three kinds of entry: an organization's roster (`members`), its pending invitations
 * (`invitations`), and one user's membership list (`user_memberships`), all with the same semantics below.
 *
 * Entries live in an LRU (lru-cache) with a size bound counted in members. On top of it sits a single-flight
 * layer of our own: concurrent reads of one key share one Clerk read ("flight"). lru-cache's `fetch()` shares
 * reads too, but it has no notion of a read that has not reached Clerk yet, of callers that stop waiting, or of a
 * result that must be kept out of the cache while its waiters still get it; a small map of flights says all three.
 *
 * **Waiters and deadlines.** Every caller of a flight is a waiter with its own deadline (its GraphQL request's).
 * A waiter whose deadline passes stops waiting at once: it gets the stale copy if stale-if-error allows, else
 * `RATE_LIMITED` (the read had not reached Clerk yet) or `UPSTREAM_UNAVAILABLE` (Clerk had not answered). A flight
 * nobody needs any more (its waiters gone; or detached, with only background waiters left) is abandoned: its
 * signal aborts, so its Clerk calls still waiting for the budget are dropped, never sent, and no further page is
 * asked for. The flight's Clerk calls carry the most patient waiter's deadline, the first interactive waiter's user
 * as the fairness key, and interactive priority if anyone interactive waits (a background read not sent yet is
 * re-queued as interactive when an interactive caller joins it).
 *
 * **When a read happened.** A flight is dated by its first Clerk call actually sent (the source reports it), not by
 * when it was asked for: a read still waiting for the budget will see whatever changes before it is sent.
 *
 * **Invalidation.** An invalidation *detaches* a flight that has already sent a call: callers already waiting
 * still get the answer they asked for (their request began before the change was announced), but it is never
 * stored, and the next caller starts a new read. A flight not sent yet is left alone: it reads Clerk after the
 * change. `user.updated` is precise: a roster flight under way records the users invalidated while it runs, and
 * is kept from the cache only if its result holds one of them; a caller who joined it after such an invalidation
 * reads again instead of getting it.
 *
 * **forceRefresh** is served only by a Clerk read that began at or after the request arrived (`requestedAt`): a
 * cached copy that new, else the flight under way if it qualifies, else the one forced read queued behind it
 * (started when the one under way settles, and shared by every forced caller who arrived meanwhile). So per key
 * there is at most one read in flight and one queued; that coalescing is the only throttle.
 *
 * **Cold pages** (`getRosterPage`): without a fresh roster, a page is answered from one Clerk page read while the
 * whole roster is read through the flight in the background (its waiter is background, without a deadline or a
 * user: those pages wait behind every interactive call and do not use up the caller's share of the queue), so the
 * next request finds it cached. A page inside the first `ROSTER_PAGE_SIZE` members waits for the flight's first
 * Clerk page ("head"): that call is interactive (the rest of the read stays background), and a small organization
 * costs that one call. A deeper page makes its own interactive call (`limit`/`offset` passed through) beside the
 * flight. Either way the page is mapped exactly as the roster's pages are, so it equals the warm roster's slice.
 * Head waiters have the same deadlines and stale-if-error as any waiter; a flight that holds a user invalidated
 * while it ran never lends its head to a later caller (who makes its own call). A forced or background read, and
 * a warm roster, take the usual path. When the page and the full read disagree (a change landed between their
 * calls), each shows Clerk as it was when it was read; the webhook of that change invalidates the organization,
 * which detaches the full read (never stored), so the next request reads again (cold path) and sees the change.
 * **Patches** (`applyDelta`): a webhook's change is applied to the cached roster or invitations as a new snapshot
 * (./deltas.ts decides, with versions and tombstones, whether it is newer than what is held); an organization not
 * cached changes nothing. A read under way is detached as by an invalidation (it may hold the state before the
 * change), and what cannot be decided invalidates. The full read that replaces a patched entry (TTL, forced) is
 * compared with it: a difference is *drift*, reported through `onDrift`.
 *
 * Freshness: an entry is served for `ttlMs`. It is kept `staleGraceMs` longer, and served (marked stale) only when
 * Clerk fails to refresh it. An invalidation marks the entry as needing a re-read rather than deleting it, so even
 * then a Clerk outage degrades to stale data instead of errors.
 */
import { LRUCache } from 'lru-cache';
import {
  applyToInvitations,
  applyToRoster,
  type Delta,
  differences,
  emptyPatchState,
  type PatchState,
  type ProfileChange,
  type Verdict,
} from './deltas.js';
import { OrganizationNotFoundError, UpstreamRateLimitedError, UpstreamUnavailableError } from './errors.js';
import {
  type PendingInvitations,
  ROSTER_PAGE_SIZE,
  type Roster,
  type RosterPage,
  type SharedCopy,
  type SourceRead,
  type TeamSource,
  type UserMemberships,
} from './types.js';
import { type Priority, UpstreamRefusedError } from './upstream.js';

export interface CacheRead<T> {
  value: T;
  /** Epoch ms when this value was read from Clerk. */
  fetchedAt: number;
  /**
   * Epoch ms when the Clerk read that produced this value began (its first call was sent): the value shows Clerk
   * as it was at this time or later. Authorization dates evidence by it, so a read that overlapped a change never
   * counts as newer than it.
   */
  readStartedAt: number;
  /** True when served from the cache without waiting for Clerk. */
  fromCache: boolean;
  /** True when Clerk failed and an expired or invalidated copy was served instead. */
  stale: boolean;
  /**
   * The number of the value served, from one counter per cache: every value the cache stores (a full read, a shared
   * copy, a patch) gets a new one, and so does a page read beside the cache. Equal versions are the same value:
   * what a prepared response (src/fast-path/) keeps instead of the value, which may be a whole roster snapshot.
   */
  version: number;
}

export interface ReadOptions {
  /**
   * Serve only data from a Clerk read that began at or after `requestedAt` (a cached copy that new, the read under
   * way if it qualifies, or the next one). Stale-if-error still applies when Clerk cannot be read in time.
   * @default false
   */
  forceRefresh?: boolean;
  /** When the request arrived (epoch ms): what `forceRefresh` means by "after". @default now */
  requestedAt?: number;
  /**
   * When the caller stops waiting (epoch ms): then it gets the stale copy if allowed, else an error, at once; and
   * the Clerk calls of a read nobody waits for any more are dropped.
   * @default none: wait for the read (whose Clerk calls then get the upstream policy's default deadline)
   */
  deadline?: number;
  /** The fairness key toward Clerk: the user the read is made for. @default none */
  caller?: string;
  /**
   * `background`: a re-read nobody is waiting for (refresh-ahead). Its Clerk calls wait behind interactive ones,
   * and it is dropped rather than finished when an invalidation makes its result unstorable.
   * @default 'interactive'
   */
  priority?: Priority;
}

/** What a background reader gets when its read was dropped (superseded by an invalidation, nobody else waiting). */
export class ReadAbandonedError extends Error {
  constructor(message = 'Clerk read abandoned: nobody waits for its answer any more') {
    super(message);
    this.name = 'ReadAbandonedError';
  }
}

export type CacheOutcome = 'hit' | 'miss' | 'inflight' | 'stale' | 'not_found';

export interface CacheObserver {
  read(kind: CacheKind, outcome: CacheOutcome): void;
  /** A full read differed from the patched copy it replaced. */
  drift?(kind: CacheKind): void;
}

/** A full read that differed from the patched copy it replaced: IDs and field names only, never values. */
export interface Drift {
  kind: CacheKind;
  organizationId: string;
  /** In the read, not in the patched copy (the first `DRIFT_SAMPLE` IDs; `counts` has them all). */
  missing: string[];
  /** In the patched copy, not in the read. */
  unexpected: string[];
  /** ID → the fields that differ. */
  changed: Record<string, string[]>;
  /** Same items, another order. */
  order: boolean;
  counts: { missing: number; unexpected: number; changed: number };
}

/** How many IDs a drift report lists of each kind (a log line, not a dump). */
const DRIFT_SAMPLE = 20;

/**
 * What a delta did per cached organization: patched it, ignored it (older, duplicate, tombstoned), or invalidated
 * it because it could not tell (see ./deltas.ts). An organization not cached is in none.
 */
export interface DeltaOutcome {
  patched: string[];
  ignored: string[];
  invalidated: string[];
}

export interface TeamCacheOptions {
  source: TeamSource;
  ttlMs: number;
  /** How long past the TTL an entry may still be served when Clerk fails. 0 disables stale-if-error. */
  staleGraceMs?: number;
  /** How long "Clerk does not know this organization" is remembered. Default 30 s. */
  notFoundTtlMs?: number;
  /** Size bound in members (an invitation counts as one; an empty list as one). */
  maxMembers: number;
  observer?: CacheObserver;
  /** Injectable clock for tests of TTL logic; defaults to Date.now. Deadlines are waited for with setTimeout. */
  now?: () => number;
  /**
   * How far Clerk's clock may be from ours: a webhook's write that close to the full read a cached entry began with
   * cannot be placed before or after it, and invalidates instead of patching. @default 1000
   */
  clockSkewMs?: number;
  /** Told of each drift (besides `observer.drift`), e.g. to log it. */
  onDrift?(drift: Drift): void;
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
  /** Rosters and invitations: versions, tombstones and whether a webhook patched it (./deltas.ts). */
  patch: PatchState | undefined;
  /** This value's number (see `CacheRead.version`): new for every value stored. */
  version: number;
}

/** How a flight ended for one waiter. */
type Outcome =
  | {
      entry: Entry;
      /**
       * The invalidation (sequence number) of the earliest user invalidated during the read whom the result holds:
       * a waiter who joined after it must read again.
       */
      taintedAt: number | undefined;
      /** Answered from a copy another replica read (see `SourceRead.onSharedCopy`). */
      shared: boolean;
    }
  | { error: unknown };

/** A cold page waiting for a roster flight's first Clerk page (or for how the flight ended without one). */
interface HeadWaiter {
  readonly caller: string | undefined;
  settle(outcome: Outcome | { head: RosterPage; at: number }): void;
}

/** What `getRosterPage` answers: the whole roster when the cache can serve it, else the requested page alone. */
export type PageRead =
  | { roster: CacheRead<Roster>; page?: undefined }
  | { page: CacheRead<RosterPage>; roster?: undefined };

interface Waiter {
  readonly priority: Priority;
  readonly caller: string | undefined;
  readonly deadline: number | undefined;
  settle(outcome: Outcome): void;
}

interface Flight {
  readonly kind: CacheKind;
  readonly id: string;
  readonly key: string;
  readonly createdAt: number;
  readonly waiters: Set<Waiter>;
  /** False for a forced read queued behind the one under way, until that one settles. */
  begun: boolean;
  /**
   * When its first Clerk call was sent; undefined until then. A read not sent yet reads Clerk after any change
   * announced so far, so invalidations leave it alone and forced callers may join it.
   */
  startedAt: number | undefined;
  /** Set when an invalidation lands after the read began: its result goes to its waiters only, never stored. */
  detached: boolean;
  settled: boolean;
  /** Rosters: users invalidated while the read was under way (→ sequence number of the first such invalidation). */
  invalidatedUsers: Map<string, number> | undefined;
  /** The forced read that starts once this one settles (or is detached), shared by every forced caller meanwhile. */
  next: Flight | undefined;
  /** Aborts the current attempt: its Clerk calls waiting for the budget are dropped. */
  controller: AbortController | undefined;
  /** Priority of the current attempt. */
  priority: Priority;
  /** Counts attempts (a background read is re-queued as interactive): late news of an earlier one is ignored. */
  attempt: number;
  /** Rosters: the first Clerk page of the read once it arrived, and when (it answers cold pages inside it). */
  head: { head: RosterPage; at: number } | undefined;
  /** Rosters: cold pages waiting for that first page; they make its call (only) interactive. */
  headWaiters: Set<HeadWaiter>;
  /** Priority of the current attempt's first page. */
  headPriority: Priority;
  // Shared copies (several replicas): see SourceRead.notBefore / onSharedCopy.
  /** Forced reads: no copy read from Clerk before this may answer. */
  notBefore: number | undefined;
  /** The dates of the shared copy the source answered with, if it did. */
  shared: SharedCopy | undefined;
  /** An invalidation reached the read before it was sent: a shared copy fetched meanwhile may predate it. */
  invalidatedUnsent: boolean;
}

export interface TeamCache {
  getRoster(organizationId: string, options?: ReadOptions): Promise<CacheRead<Roster>>;
  /**
   * One page of the roster (Clerk's order): from the roster when it is fresh (or when forced, background, or
   * served stale), else in about one Clerk round trip while the whole roster is read in the background (see
   * "Cold pages" above).
   */
  getRosterPage(
    organizationId: string,
    page: { limit: number; offset: number },
    options?: ReadOptions,
  ): Promise<PageRead>;
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
  /**
   * The version (`CacheRead.version`) of the fresh entry for this key (within the TTL, not invalidated), else
   * undefined. Never reads Clerk, counts nothing: what a prepared response (src/fast-path/) checks its inputs
   * against, holding numbers only, never the values (a roster snapshot can be megabytes).
   */
  peekFreshVersion(kind: CacheKind, id: string): number | undefined;
  /** Which parts of this organization are held (fresh or not): decides what to refresh ahead. */
  cachedParts(organizationId: string): { roster: boolean; invitations: boolean };
  invalidateOrganization(organizationId: string): void;
  /**
   * Invalidates every cached organization whose roster holds this user, and keeps any roster read under way out of
   * the cache if its result holds them; returns the cached organizations.
   */
  invalidateUser(userId: string): string[];
  /** Invalidates this user's membership list. */
  invalidateUserMemberships(userId: string): void;
  /** Invalidates every cached membership list that holds this organization (its name, count or existence changed). */
  invalidateMembershipListsOf(organizationId: string): void;
  invalidateAll(): void;
  /**
   * Applies a webhook's change to what is cached (zero Clerk calls), detaching reads under way as an invalidation
   * does; invalidates instead where it cannot tell whether the change is newer than the cached copy.
   */
  applyDelta(delta: Delta): DeltaOutcome;
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
  const observe = options.observer ? options.observer.read.bind(options.observer) : () => {};

  /** Set while a patched snapshot replaces its entry: the patch updates the index for the one user it touched. */
  let patching = false;
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
      if (patching) return;
      const index = indexOf(entry);
      if (!index) return;
      const [map, keys] = index;
      for (const key of keys) {
        const ids = map.get(key);
        if (ids) ids.add(entry.id);
        else map.set(key, new Set([entry.id]));
      }
    },
    dispose: (entry, key, reason) => {
      // A patched copy that expires is kept until its re-read compares with it (drift).
      if (reason === 'expire' && entry.patch?.patched && !entry.invalidated) expiredPatched.set(key, entry);
      if (patching) return;
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
  /** Patched entries past their TTL, until the re-read that replaces them compares with them. */
  const expiredPatched = new LRUCache<string, Entry>({
    max: 1_000,
    ttl: ttlMs,
    ttlResolution: 0,
    perf: { now },
  });
  const clockSkewMs = options.clockSkewMs ?? 1000;
  /**
   * The latest `user.updated` per user, for memberships delivered after it (a cached roster may not have held the
   * user when it came). As long as a cached copy may live; past the bound, the TTL re-read reconciles.
   */
  const recentProfiles = new LRUCache<string, ProfileChange>({
    max: 10_000,
    ttl: ttlMs + staleGraceMs,
    ttlResolution: 0,
    perf: { now },
  });
  /** Organizations Clerk said do not exist: probing unknown IDs must not reach Clerk every time. */
  const notFound = new LRUCache<string, true>({
    max: 10_000,
    ttl: options.notFoundTtlMs ?? 30_000,
    ttlResolution: 0,
    perf: { now },
  });
  /** The flight under way per key (a forced read queued behind it hangs off it as `next`). */
  const flights = new Map<string, Flight>();
  /** Numbers user invalidations, so a waiter can tell whether one came before it joined. */
  let sequence = 0;
  /** Numbers the values this cache stores (`CacheRead.version`): a new one for every full read, copy and patch. */
  let versions = 0;

  const isFresh = (entry: Entry) => !entry.invalidated && now() - entry.fetchedAt < ttlMs;

  const readFrom = (kind: CacheKind, id: string, read: SourceRead): Promise<Value> =>
    kind === 'members'
      ? source.readRoster(id, read)
      : kind === 'invitations'
        ? source.readPendingInvitations(id, read)
        : source.readUserMemberships(id, read);

  const served = (entry: Entry, fromCache: boolean, stale: boolean): CacheRead<Value> => ({
    value: entry.value,
    fetchedAt: entry.fetchedAt,
    readStartedAt: entry.readStartedAt,
    fromCache,
    stale,
    version: entry.version,
  });

  function newFlight(kind: CacheKind, id: string, notBefore?: number): Flight {
    return {
      kind,
      id,
      key: keyOf(kind, id),
      createdAt: now(),
      waiters: new Set(),
      begun: false,
      startedAt: undefined,
      detached: false,
      settled: false,
      invalidatedUsers: undefined,
      next: undefined,
      controller: undefined,
      priority: 'background',
      attempt: 0,
      head: undefined,
      headWaiters: new Set(),
      headPriority: 'background',
      notBefore,
      shared: undefined,
      invalidatedUnsent: false,
    };
  }

  /** Someone still needs its answer: an interactive waiter, or anyone while its result can still be stored. */
  function wanted(flight: Flight): boolean {
    if (flight.headWaiters.size > 0) return true;
    if (!flight.detached) return flight.waiters.size > 0;
    for (const waiter of flight.waiters) if (waiter.priority === 'interactive') return true;
    return false;
  }

  function begin(flight: Flight) {
    flight.begun = true;
    flights.set(flight.key, flight);
    launch(flight);
  }

  /** Starts (or restarts, at its waiters' priority) the source read of a flight. */
  function launch(flight: Flight) {
    const attempt = ++flight.attempt;
    // A restarted read had sent nothing: its calls waiting for the budget are dropped.
    flight.controller?.abort(new ReadAbandonedError('Clerk read re-queued at a higher priority'));
    const controller = new AbortController();
    flight.controller = controller;
    let interactive: Waiter | undefined;
    let deadline: number | undefined;
    let unbounded = false;
    for (const waiter of flight.waiters) {
      if (!interactive && waiter.priority === 'interactive') interactive = waiter;
      // The most patient waiter's deadline; one without a deadline leaves it to the upstream policy's default.
      if (waiter.deadline === undefined) unbounded = true;
      else deadline = Math.max(deadline ?? waiter.deadline, waiter.deadline);
    }
    flight.priority = interactive ? 'interactive' : 'background';
    flight.headPriority = flight.headWaiters.size > 0 ? 'interactive' : flight.priority;
    const headWaiter: HeadWaiter | undefined = flight.headWaiters.values().next().value;
    const read: SourceRead = {
      priority: flight.priority,
      headPriority: flight.headPriority,
      // The cold page's call counts for its user; the rest of the read is background work nobody's own.
      headCaller: headWaiter?.caller,
      onHead: (page) => {
        if (attempt === flight.attempt) gotHead(flight, page);
      },
      caller: (interactive ?? flight.waiters.values().next().value)?.caller,
      deadline: unbounded ? undefined : deadline,
      signal: controller.signal,
      onCall: () => {
        if (attempt === flight.attempt && flight.startedAt === undefined) flight.startedAt = now();
      },
      notBefore: flight.notBefore,
      onSharedCopy: (copy) => {
        if (attempt !== flight.attempt || flight.settled || flight.invalidatedUnsent) return false;
        if (flight.startedAt !== undefined) return false; // it already asked Clerk itself
        flight.shared = copy;
        // Dated by the real Clerk read: an invalidation from now on detaches it, as any read under way.
        flight.startedAt = copy.readStartedAt;
        return true;
      },
    };
    let reading: Promise<Value>;
    try {
      reading = readFrom(flight.kind, flight.id, read);
    } catch (error) {
      reading = Promise.reject(error);
    }
    reading.then(
      (value) => {
        if (attempt === flight.attempt) succeed(flight, value);
      },
      (error: unknown) => {
        if (attempt === flight.attempt) fail(flight, error);
      },
    );
  }

  /** Takes a flight out of the map (if it is still the key's), and starts the forced read queued behind it. */
  function release(flight: Flight) {
    if (flights.get(flight.key) === flight) flights.delete(flight.key);
    const next = flight.next;
    flight.next = undefined;
    // Its waiters may all have given up meanwhile: then it is never sent.
    if (next && wanted(next)) {
      next.notBefore = now(); // every forced caller queued on it arrived before this
      begin(next);
    }
  }

  function settle(flight: Flight, outcome: Outcome) {
    flight.settled = true;
    release(flight);
    const waiters = [...flight.waiters];
    flight.waiters.clear();
    for (const waiter of waiters) waiter.settle(outcome);
    settleHeadWaiters(flight, outcome);
  }

  function settleHeadWaiters(flight: Flight, outcome: Outcome | { head: RosterPage; at: number }) {
    const waiters = [...flight.headWaiters];
    flight.headWaiters.clear();
    for (const waiter of waiters) waiter.settle(outcome);
  }

  /** The first page of a roster read arrived: cold pages inside it are answered now, the rest reads on. */
  function gotHead(flight: Flight, page: RosterPage) {
    if (flight.settled) return;
    flight.head = { head: page, at: now() };
    settleHeadWaiters(flight, flight.head);
    // A detached read kept going only for them: its remaining pages are dropped.
    if (!wanted(flight)) abandon(flight);
  }

  function succeed(flight: Flight, value: Value) {
    if (flight.settled) return;
    const { head } = flight;
    const shared = flight.shared;
    const entry: Entry = {
      kind: flight.kind,
      id: flight.id,
      value,
      // A roster that was all in its first page was read when that page came (a cold page said so already).
      fetchedAt:
        shared?.fetchedAt ?? (head && head.head.members.length >= head.head.totalCount ? head.at : now()),
      readStartedAt: shared?.readStartedAt ?? flight.startedAt ?? flight.createdAt,
      invalidated: false,
      patch: flight.kind === 'user_memberships' ? undefined : emptyPatchState(),
      version: ++versions,
    };
    let taintedAt: number | undefined;
    if (flight.invalidatedUsers && flight.kind === 'members') {
      const users = (value as Roster).byUserId;
      for (const [userId, at] of flight.invalidatedUsers) {
        if (users.has(userId) && (taintedAt === undefined || at < taintedAt)) taintedAt = at;
      }
    }
    if (!flight.detached && taintedAt === undefined) {
      compareWithPatched(entry);
      // A shared copy is kept only as long as it would have been had this replica read it itself.
      entries.set(
        flight.key,
        entry,
        shared ? { ttl: Math.max(1, ttlMs + staleGraceMs - (now() - entry.fetchedAt)) } : undefined,
      );
    }
    settle(flight, { entry, taintedAt, shared: shared !== undefined });
  }

  function fail(flight: Flight, error: unknown) {
    if (flight.settled) return;
    if (
      !flight.detached &&
      error instanceof OrganizationNotFoundError &&
      flight.kind !== 'user_memberships'
    ) {
      notFound.set(flight.id, true);
      for (const each of ORGANIZATION_KINDS) entries.delete(keyOf(each, flight.id));
    }
    settle(flight, { error });
  }

  /** Nobody needs its answer: its Clerk calls not sent yet are dropped (the upstream removes aborted calls). */
  function abandon(flight: Flight) {
    if (!flight.begun || flight.settled) return; // a queued forced read is simply not begun when its turn comes
    flight.controller?.abort(new ReadAbandonedError());
    settle(flight, { error: new ReadAbandonedError() }); // only background waiters of a detached read are left
  }

  /** An invalidation: a flight that has sent a call must not store its (possibly older) result. */
  function detach(flight: Flight) {
    // Not sent yet: it will read Clerk after this change, so it may still be stored, and shared.
    if (flight.startedAt === undefined) flight.invalidatedUnsent = true;
    if (flight.startedAt === undefined || flight.settled) return;
    flight.detached = true;
    release(flight);
    if (!wanted(flight)) abandon(flight);
  }

  function join(flight: Flight, waiter: Waiter) {
    flight.waiters.add(waiter);
    // An interactive caller must not wait behind background work: a read not sent yet is re-queued at its priority.
    if (
      flight.begun &&
      flight.startedAt === undefined &&
      waiter.priority === 'interactive' &&
      flight.priority === 'background'
    ) {
      launch(flight);
    }
  }

  function leave(flight: Flight, waiter: Waiter) {
    if (!flight.waiters.delete(waiter) || flight.settled) return;
    if (!wanted(flight)) abandon(flight);
  }

  /** Begins or joins a flight and waits for it, at most until the deadline. */
  function wait(
    flight: Flight,
    start: boolean,
    request: { priority: Priority; caller: string | undefined; deadline: number | undefined },
  ): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        ...request,
        settle(outcome) {
          if (timer) clearTimeout(timer);
          resolve(outcome);
        },
      };
      if (request.deadline !== undefined) {
        timer = setTimeout(
          () => {
            const error = pastDeadline(flight);
            leave(flight, waiter);
            resolve({ error });
          },
          Math.max(0, request.deadline - now()),
        );
      }
      if (start) {
        flight.waiters.add(waiter);
        begin(flight);
      } else join(flight, waiter);
    });
  }

  /** What a waiter whose deadline passed is told: the read could not be sent in time, or Clerk did not answer. */
  const pastDeadline = (flight: Flight | undefined) =>
    flight?.startedAt === undefined
      ? new UpstreamRefusedError('deadline', 1)
      : new UpstreamUnavailableError('Clerk did not answer before the request deadline', undefined);

  async function read(kind: CacheKind, id: string, readOptions: ReadOptions = {}): Promise<CacheRead<Value>> {
    const key = keyOf(kind, id);
    const { forceRefresh = false, deadline, caller, priority = 'interactive' } = readOptions;
    const requestedAt = readOptions.requestedAt ?? now();
    if (kind !== 'user_memberships' && notFound.has(id)) {
      observe(kind, 'not_found');
      throw new OrganizationNotFoundError(id);
    }
    const cached = entries.get(key);
    if (cached && isFresh(cached) && (!forceRefresh || cached.readStartedAt >= requestedAt)) {
      observe(kind, 'hit');
      return served(cached, true, false);
    }
    for (;;) {
      let outcome: Outcome;
      if (deadline !== undefined && deadline - now() <= 0) {
        outcome = { error: pastDeadline(undefined) };
      } else {
        let flight = flights.get(key);
        // A forced read cannot use a read begun before its request: it shares the one queued behind it.
        if (forceRefresh && flight?.startedAt !== undefined && flight.startedAt < requestedAt) {
          flight.next ??= newFlight(kind, id, requestedAt);
          flight = flight.next;
        }
        observe(kind, flight ? 'inflight' : 'miss');
        const joinedAfter = sequence;
        outcome = await wait(flight ?? newFlight(kind, id, forceRefresh ? requestedAt : undefined), !flight, {
          priority,
          caller,
          deadline,
        });
        // It holds a user invalidated before this caller asked: read again, as after any invalidation.
        if ('entry' in outcome && outcome.taintedAt !== undefined && outcome.taintedAt <= joinedAfter)
          continue;
        // A forced caller joined before the source answered from a shared copy older than its request: read again.
        if ('entry' in outcome && outcome.shared && forceRefresh && outcome.entry.readStartedAt < requestedAt)
          continue;
      }
      if ('entry' in outcome) return served(outcome.entry, outcome.shared, false);
      const copy = entries.get(key) ?? cached;
      if (copy && staleGraceMs > 0 && canServeStale(outcome.error)) {
        observe(kind, 'stale');
        return served(copy, true, true);
      }
      throw outcome.error;
    }
  }

  /** Waits for a flight's first page, at most until the deadline (a cold page inside it). */
  function waitHead(flight: Flight, request: { caller: string | undefined; deadline: number | undefined }) {
    const { deadline } = request;
    return new Promise<Outcome | { head: RosterPage; at: number }>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: HeadWaiter = {
        caller: request.caller,
        settle(outcome) {
          if (timer) clearTimeout(timer);
          resolve(outcome);
        },
      };
      if (deadline !== undefined) {
        timer = setTimeout(
          () => {
            const error = pastDeadline(flight);
            flight.headWaiters.delete(waiter);
            if (!flight.settled && !wanted(flight)) abandon(flight);
            resolve({ error });
          },
          Math.max(0, deadline - now()),
        );
      }
      flight.headWaiters.add(waiter);
    });
  }

  /**
   * A cold page deeper than the head: its own interactive Clerk call, beside the flight. The upstream policy ends it
   * at the request's deadline (refused if it could not start, timed out if Clerk has not answered).
   */
  function readOwnPage(
    id: string,
    page: { limit: number; offset: number },
    request: { caller: string | undefined; deadline: number | undefined },
  ): Promise<Outcome | { head: RosterPage; at: number; startedAt: number }> {
    let startedAt: number | undefined;
    return source
      .readRosterPage(id, page, {
        priority: 'interactive',
        caller: request.caller,
        deadline: request.deadline,
        onCall: () => {
          startedAt ??= now();
        },
      })
      .then(
        (head) => ({ head, at: now(), startedAt: startedAt ?? now() }),
        (error: unknown) => ({ error }),
      );
  }

  async function readPage(
    id: string,
    page: { limit: number; offset: number },
    readOptions: ReadOptions = {},
  ): Promise<PageRead> {
    const key = keyOf('members', id);
    const { deadline, caller } = readOptions;
    const cached = entries.get(key);
    if (
      readOptions.forceRefresh ||
      readOptions.priority === 'background' ||
      notFound.has(id) ||
      (cached && isFresh(cached)) ||
      (deadline !== undefined && deadline - now() <= 0)
    ) {
      return { roster: (await read('members', id, readOptions)) as CacheRead<Roster> };
    }
    const running = flights.get(key);
    const flight = running ?? newFlight('members', id);
    observe('members', running ? 'inflight' : 'miss');
    // A read that holds a user invalidated since it began may show them as they were: not for a later caller.
    const lendsHead = flight.invalidatedUsers === undefined;
    const inHead = page.offset + page.limit <= ROSTER_PAGE_SIZE;
    let outcome: Outcome | { head: RosterPage; at: number; startedAt?: number };
    if (inHead && lendsHead && flight.head) {
      outcome = flight.head;
    } else {
      const waiting =
        inHead && lendsHead
          ? waitHead(flight, { caller, deadline })
          : readOwnPage(id, page, { caller, deadline });
      // The whole roster, through the single flight, as background work nobody waits for: the next request's hit.
      // Not attributed to the caller: its pages must not use up their share of the queue (they would refuse the
      // caller's own next requests); it waits behind every interactive call instead.
      const warmer: Waiter = { priority: 'background', caller: undefined, deadline: undefined, settle() {} };
      flight.waiters.add(warmer);
      if (!running) begin(flight);
      else if (
        flight.begun &&
        flight.startedAt === undefined &&
        flight.headPriority !== 'interactive' &&
        inHead
      )
        launch(flight); // not sent yet: re-queued with an interactive first page
      outcome = await waiting;
    }
    if ('head' in outcome) {
      const { head, at } = outcome;
      const start = page.offset - head.offset;
      return {
        page: {
          value: { ...head, offset: page.offset, members: head.members.slice(start, start + page.limit) },
          fetchedAt: at,
          readStartedAt:
            'startedAt' in outcome ? (outcome.startedAt ?? at) : (flight.startedAt ?? flight.createdAt),
          fromCache: false,
          stale: false,
          // Never stored: a number no entry has.
          version: ++versions,
        },
      };
    }
    if ('entry' in outcome)
      return { roster: served(outcome.entry, outcome.shared, false) as CacheRead<Roster> };
    const copy = entries.get(key) ?? cached;
    if (copy && staleGraceMs > 0 && canServeStale(outcome.error)) {
      observe('members', 'stale');
      return { roster: served(copy, true, true) as CacheRead<Roster> };
    }
    throw outcome.error;
  }

  /** Drift: the full read replacing a patched copy (not invalidated since) should hold exactly what it held. */
  function compareWithPatched(entry: Entry) {
    const key = keyOf(entry.kind, entry.id);
    const previous = entries.peek(key) ?? expiredPatched.get(key);
    expiredPatched.delete(key);
    if (!previous?.patch?.patched || previous.invalidated) return;
    const found =
      entry.kind === 'members'
        ? differences(
            (entry.value as Roster).members,
            (previous.value as Roster).members,
            (member) => member.membershipId,
          )
        : differences(
            (entry.value as PendingInvitations).invitations,
            (previous.value as PendingInvitations).invitations,
            (invitation) => invitation.id,
          );
    if (!found) return;
    options.observer?.drift?.(entry.kind);
    const changed = Object.entries(found.changed);
    options.onDrift?.({
      kind: entry.kind,
      organizationId: entry.id,
      missing: found.missing.slice(0, DRIFT_SAMPLE),
      unexpected: found.unexpected.slice(0, DRIFT_SAMPLE),
      changed: Object.fromEntries(changed.slice(0, DRIFT_SAMPLE)),
      order: found.order,
      counts: { missing: found.missing.length, unexpected: found.unexpected.length, changed: changed.length },
    });
  }

  /**
   * Stores a patched snapshot in place of the entry: same age (the TTL still counts from the full read). A roster
   * patch touches one user: the user → organizations index is updated for them alone, not rebuilt (30,000 members).
   */
  function patchEntry(entry: Entry, verdict: Verdict<Value>, outcome: DeltaOutcome, userId?: string) {
    if (verdict.kind === 'ignored') {
      outcome.ignored.push(entry.id);
      return;
    }
    if (verdict.kind === 'ambiguous') {
      invalidate(entry.kind, entry.id);
      outcome.invalidated.push(entry.id);
      return;
    }
    const patch = entry.patch ?? emptyPatchState();
    patch.patched = true;
    patching = true;
    try {
      entries.set(
        keyOf(entry.kind, entry.id),
        { ...entry, value: verdict.value, patch, version: ++versions },
        { noUpdateTTL: true },
      );
    } finally {
      patching = false;
    }
    if (userId !== undefined && entry.kind === 'members') {
      const organizations = organizationsByUser.get(userId);
      if ((verdict.value as Roster).byUserId.has(userId)) {
        if (organizations) organizations.add(entry.id);
        else organizationsByUser.set(userId, new Set([entry.id]));
      } else {
        organizations?.delete(entry.id);
        if (organizations?.size === 0) organizationsByUser.delete(userId);
      }
    }
    outcome.patched.push(entry.id);
  }

  function applyDelta(delta: Delta): DeltaOutcome {
    const outcome: DeltaOutcome = { patched: [], ignored: [], invalidated: [] };
    const base = (entry: Entry) => ({ readStartedAt: entry.readStartedAt, clockSkewMs });
    const stateOf = (entry: Entry) => {
      entry.patch ??= emptyPatchState();
      return entry.patch;
    };
    if (delta.kind === 'profile') {
      const previous = recentProfiles.get(delta.userId);
      if (!previous || previous.version < delta.version) recentProfiles.set(delta.userId, delta);
      // Reads under way may hold the user as they were: the same precise rule as a user invalidation.
      markUserInvalidated(delta.userId);
      for (const organizationId of [...(organizationsByUser.get(delta.userId) ?? [])]) {
        const entry = entries.peek(keyOf('members', organizationId));
        if (!entry) continue;
        patchEntry(entry, applyToRoster(entry.value as Roster, stateOf(entry), delta, base(entry)), outcome);
      }
      return outcome;
    }
    const kind: CacheKind =
      delta.kind === 'memberUpsert' || delta.kind === 'memberRemoval' ? 'members' : 'invitations';
    const key = keyOf(kind, delta.organizationId);
    // A webhook about the organization says it exists (its organization.created may come later).
    notFound.delete(delta.organizationId);
    // A read under way may hold the state before this change: its answer goes to its waiters, never stored.
    const flight = flights.get(key);
    if (flight) detach(flight);
    const entry = entries.peek(key);
    if (!entry) return outcome;
    const verdict =
      delta.kind === 'memberUpsert' || delta.kind === 'memberRemoval'
        ? applyToRoster(
            entry.value as Roster,
            stateOf(entry),
            delta,
            base(entry),
            delta.kind === 'memberUpsert' ? recentProfiles.get(delta.member.userId) : undefined,
          )
        : applyToInvitations(entry.value as PendingInvitations, stateOf(entry), delta, base(entry));
    patchEntry(
      entry,
      verdict,
      outcome,
      'userId' in delta ? delta.userId : delta.kind === 'memberUpsert' ? delta.member.userId : undefined,
    );
    return outcome;
  }

  function markUserInvalidated(userId: string) {
    const at = ++sequence;
    for (const flight of flights.values()) {
      if (flight.kind !== 'members' || flight.startedAt === undefined) continue;
      flight.invalidatedUsers ??= new Map();
      if (!flight.invalidatedUsers.has(userId)) flight.invalidatedUsers.set(userId, at);
    }
  }

  function invalidate(kind: CacheKind, id: string) {
    const key = keyOf(kind, id);
    const entry = entries.peek(key);
    if (entry) entry.invalidated = true;
    const flight = flights.get(key);
    if (flight) detach(flight);
  }

  function invalidateOrganization(organizationId: string) {
    notFound.delete(organizationId);
    for (const kind of ORGANIZATION_KINDS) invalidate(kind, organizationId);
  }

  return {
    getRoster: (organizationId, readOptions) =>
      read('members', organizationId, readOptions) as Promise<CacheRead<Roster>>,
    getRosterPage: readPage,
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
    peekFreshVersion(kind, id) {
      const cached = entries.peek(keyOf(kind, id));
      return cached && isFresh(cached) ? cached.version : undefined;
    },
    cachedParts: (organizationId) => ({
      roster: entries.has(keyOf('members', organizationId)),
      invitations: entries.has(keyOf('invitations', organizationId)),
    }),
    invalidateOrganization,
    invalidateUser(userId) {
      const organizations = [...(organizationsByUser.get(userId) ?? [])];
      for (const organizationId of organizations) invalidateOrganization(organizationId);
      // A roster read under way may hold the user as they were, and we cannot know until it returns: it notes the
      // user, and is kept from the cache then only if its result holds them.
      markUserInvalidated(userId);
      return organizations;
    },
    invalidateUserMemberships: (userId) => invalidate('user_memberships', userId),
    invalidateMembershipListsOf(organizationId) {
      for (const userId of [...(usersByOrganization.get(organizationId) ?? [])]) {
        invalidate('user_memberships', userId);
      }
      // Any list under way may include this organization as it was: detach them all (those already sent).
      for (const flight of [...flights.values()]) if (flight.kind === 'user_memberships') detach(flight);
    },
    invalidateAll() {
      for (const entry of entries.values()) entry.invalidated = true;
      notFound.clear();
      for (const flight of [...flights.values()]) detach(flight);
    },
    applyDelta,
    stats: () => ({ entries: entries.size, members: entries.calculatedSize, inFlight: flights.size }),
  };
}
