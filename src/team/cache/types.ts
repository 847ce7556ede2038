/**
 * The cache's types: the public ones (re-exported by ../cache.ts, which every other module imports them from) and
 * the entry it stores, one shape per kind.
 */

import type { Delta, PatchState } from '../deltas.js';
import type {
  PendingInvitations,
  Priority,
  Roster,
  RosterPage,
  TeamSource,
  UserMemberships,
} from '../types.js';

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
   * The number of the value served: every value the cache stores (a full read, a shared copy, a patch) gets a new
   * one, and so does a page read beside the cache. Equal versions are the same value: what a prepared response
   * (src/fast-path/) keeps instead of the value, which may be a whole roster snapshot.
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

/**
 * What a delta did per cached organization: patched it, ignored it (older, duplicate, tombstoned), or invalidated
 * it because it could not tell (see ../deltas.ts). An organization not cached is in none.
 */
export interface DeltaOutcome {
  patched: string[];
  ignored: string[];
  invalidated: string[];
}

export interface TeamCacheOptions {
  source: TeamSource;
  ttlMs: number;
  /** How long past the TTL an entry may still be served when Clerk fails. 0 disables stale-if-error. @default 0 */
  staleGraceMs?: number;
  /** How long "Clerk does not know this organization" is remembered. @default 30_000 */
  notFoundTtlMs?: number;
  /** Size bound in members (an invitation counts as one; an empty list as one). */
  maxMembers: number;
  /** @default none (nothing counted) */
  observer?: CacheObserver;
  /** Injectable clock for tests of TTL logic. Deadlines are waited for with setTimeout. @default Date.now */
  now?: () => number;
  /**
   * How far Clerk's clock may be from ours: a webhook's write that close to the full read a cached entry began with
   * cannot be placed before or after it, and invalidates instead of patching. @default 1000
   */
  clockSkewMs?: number;
  /** Told of each drift (besides `observer.drift`), e.g. to log it. @default none */
  onDrift?(drift: Drift): void;
}

export interface TeamCacheStats {
  entries: number;
  members: number;
  inFlight: number;
}

/** Also the `part` label of the cache metrics. */
export type CacheKind = 'members' | 'invitations' | 'user_memberships';
/** The kinds that are parts of an organization (Clerk's "not found" and webhook patches apply to them). */
export type OrganizationKind = 'members' | 'invitations';

/** What `getRosterPage` answers: the whole roster when the cache can serve it, else the requested page alone. */
export type PageRead =
  | { roster: CacheRead<Roster>; page?: undefined }
  | { page: CacheRead<RosterPage>; roster?: undefined };

export interface TeamCache {
  getRoster(organizationId: string, options?: ReadOptions): Promise<CacheRead<Roster>>;
  /**
   * One page of the roster (Clerk's order): from the roster when it is fresh (or when forced, background, or
   * served stale), else in about one Clerk round trip while the whole roster is read in the background (see
   * "Cold pages" in ./cold-pages.ts).
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

// --- Internal: what the cache stores. Not re-exported. ---

/** The value each kind holds. */
interface Values {
  members: Roster;
  invitations: PendingInvitations;
  user_memberships: UserMemberships;
}
export type ValueOf<K extends CacheKind> = Values[K];

/** Rosters and invitations carry patch bookkeeping (../deltas.ts); membership lists are never patched. */
export type PatchStateOf<K extends CacheKind> = K extends OrganizationKind ? PatchState : undefined;

/** One stored value of kind `K`, with when it was read. */
export interface EntryOf<K extends CacheKind> {
  readonly kind: K;
  /** The organization (rosters, invitations) or the user (membership lists). */
  readonly id: string;
  readonly value: ValueOf<K>;
  readonly fetchedAt: number;
  readonly readStartedAt: number;
  /** Set by an invalidation: served again only if Clerk cannot be read. */
  invalidated: boolean;
  /** Rosters and invitations: versions, tombstones and whether a webhook patched it (../deltas.ts). */
  readonly patch: PatchStateOf<K>;
  /** This value's number (`CacheRead.version`): new for every value stored. */
  readonly version: number;
}

/** What the cache stores: one entry shape per kind, told apart by `kind`. */
export type Entry = { [K in CacheKind]: EntryOf<K> }[CacheKind];
export type OrganizationEntry = EntryOf<'members'> | EntryOf<'invitations'>;
