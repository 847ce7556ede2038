/**
 * What the cache holds: the entries in an LRU (lru-cache) with a size bound counted in members, the two indexes
 * over them (user → organizations whose roster holds the user; organization → users whose membership list holds
 * it), and the organizations Clerk said do not exist.
 *
 * The indexes are kept in step by the storage itself: it indexes what it stores, and the LRU's `dispose` hook
 * unindexes what leaves (evicted, expired, deleted, or replaced by a full read). A patch replaces its entry without
 * that hook and updates the user → organizations index for the one user it touched, instead of unindexing and
 * re-indexing a whole roster (30,000 members) per webhook.
 *
 * A patched entry whose time runs out is kept aside (not served) until the full read that replaces it has been
 * compared with it (drift, ./patching.ts): without a stale grace the LRU drops it before that read comes.
 *
 * Freshness: an entry is served for `ttlMs`. It is kept `staleGraceMs` longer, and served (marked stale) only when
 * Clerk fails to refresh it. An invalidation marks the entry as needing a re-read rather than deleting it, so even
 * then a Clerk outage degrades to stale data instead of errors.
 */
import { LRUCache } from 'lru-cache';
import { KINDS, keyOf, ORGANIZATION_KINDS, sizeOf } from './kinds.js';
import type { CacheKind, CacheRead, EntryOf, OrganizationKind, ValueOf } from './types.js';

/** An entry of any kind (the LRU holds all three; `Entry` is the same told apart by kind). */
type StoredEntry = EntryOf<CacheKind>;

export interface StorageOptions {
  /** How long an entry is served as fresh. */
  ttlMs: number;
  /** How much longer it is kept, to be served when Clerk fails (stale-if-error). */
  staleGraceMs: number;
  /** Size bound in members (an invitation counts as one; an empty list as one). */
  maxMembers: number;
  /** How long "Clerk does not know this organization" is remembered. */
  notFoundTtlMs: number;
  now: () => number;
}

export interface Storage {
  /** The entry if held and not past its grace (counts as a use for the LRU). */
  get<K extends CacheKind>(kind: K, id: string): EntryOf<K> | undefined;
  /** The same without touching the LRU's order. */
  peek<K extends CacheKind>(kind: K, id: string): EntryOf<K> | undefined;
  has(kind: CacheKind, id: string): boolean;
  /**
   * What a full read of this key is about to replace: the entry held (not past its grace), else a patched copy that
   * expired before the read came. Forgets the latter: it is compared once.
   */
  takeReplaced<K extends CacheKind>(kind: K, id: string): EntryOf<K> | undefined;
  /** Within the TTL and not invalidated. */
  isFresh(entry: StoredEntry): boolean;
  /**
   * Stores a full read in place of what is held. A copy another replica read (`sharedCopy`) is kept only as long
   * as it would have been had this replica read it itself.
   */
  store(entry: StoredEntry, sharedCopy: boolean): void;
  /**
   * Stores a patched snapshot in place of its entry: same age (the TTL still counts from the full read). For a
   * roster, `userId` is the one user the patch touched: the index is updated for them alone.
   */
  storePatched<K extends OrganizationKind>(entry: EntryOf<K>, userId: string | undefined): void;
  /** Marks the entry as needing a re-read (still served if Clerk cannot be read). */
  invalidate(kind: CacheKind, id: string): void;
  /** Marks every entry, and forgets every "not found". */
  invalidateAll(): void;
  /** The organizations whose cached roster holds this user. */
  organizationsOf(userId: string): string[];
  /** The users whose cached membership list holds this organization. */
  membershipListsOf(organizationId: string): string[];
  isNotFound(organizationId: string): boolean;
  /** Clerk says the organization does not exist: its parts are dropped, and asking again fails without a read. */
  setNotFound(organizationId: string): void;
  /** Something (a webhook, an invalidation) says it may exist after all. */
  forgetNotFound(organizationId: string): void;
  stats(): { entries: number; members: number };
}

/** What a read serves from an entry. */
export const served = <K extends CacheKind>(
  entry: EntryOf<K>,
  fromCache: boolean,
  stale: boolean,
): CacheRead<ValueOf<K>> => ({
  value: entry.value,
  fetchedAt: entry.fetchedAt,
  readStartedAt: entry.readStartedAt,
  fromCache,
  stale,
  version: entry.version,
});

type Index = Map<string, Set<string>>;

function addTo(index: Index, key: string, id: string) {
  const ids = index.get(key);
  if (ids) ids.add(id);
  else index.set(key, new Set([id]));
}

function removeFrom(index: Index, key: string, id: string) {
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}

export function createStorage(options: StorageOptions): Storage {
  const { ttlMs, staleGraceMs, now } = options;
  const organizationsByUser: Index = new Map();
  const usersByOrganization: Index = new Map();

  /** Adds (or removes) the (from → to) pairs an entry puts in its index: a roster's users, a list's organizations. */
  function index<K extends CacheKind>(entry: EntryOf<K>, update: typeof addTo) {
    const kind = KINDS[entry.kind];
    for (const userId of kind.users?.(entry.value).keys() ?? [])
      update(organizationsByUser, userId, entry.id);
    for (const organizationId of kind.organizations?.(entry.value).keys() ?? [])
      update(usersByOrganization, organizationId, entry.id);
  }

  const entries = new LRUCache<string, StoredEntry>({
    ttl: ttlMs + staleGraceMs,
    maxSize: options.maxMembers,
    sizeCalculation: sizeOf,
    // Read the clock on every check (lru-cache otherwise reuses one reading for 1 ms); Date.now is cheap.
    ttlResolution: 0,
    perf: { now },
    dispose: (entry, key, reason) => {
      // A patched copy that expires is kept until its re-read compares with it (drift).
      if (reason === 'expire' && entry.patch?.patched && !entry.invalidated) expiredPatched.set(key, entry);
      index(entry, removeFrom);
    },
  });
  /** Patched entries past their TTL, until the re-read that replaces them compares with them. */
  const expiredPatched = new LRUCache<string, StoredEntry>({
    max: 1_000,
    ttl: ttlMs,
    ttlResolution: 0,
    perf: { now },
  });
  /** Organizations Clerk said do not exist: probing unknown IDs must not reach Clerk every time. */
  const notFound = new LRUCache<string, true>({
    max: 10_000,
    ttl: options.notFoundTtlMs,
    ttlResolution: 0,
    perf: { now },
  });

  // The key names the kind, so what is stored under it is of that kind.
  const ofKind = <K extends CacheKind>(entry: StoredEntry | undefined) => entry as EntryOf<K> | undefined;
  /** Whether `entry` is what the LRU holds now (it refuses an entry bigger than its whole bound). */
  const holds = (key: string, entry: StoredEntry) => entries.peek(key, { allowStale: true }) === entry;

  return {
    get: (kind, id) => ofKind(entries.get(keyOf(kind, id))),
    peek: (kind, id) => ofKind(entries.peek(keyOf(kind, id))),
    has: (kind, id) => entries.has(keyOf(kind, id)),
    takeReplaced(kind, id) {
      const key = keyOf(kind, id);
      const replaced = entries.peek(key) ?? expiredPatched.get(key);
      expiredPatched.delete(key);
      return ofKind(replaced);
    },
    isFresh: (entry) => !entry.invalidated && now() - entry.fetchedAt < ttlMs,
    store(entry, sharedCopy) {
      const key = keyOf(entry.kind, entry.id);
      // The entry it replaces leaves the index through `dispose` (reason 'set').
      entries.set(
        key,
        entry,
        sharedCopy ? { ttl: Math.max(1, ttlMs + staleGraceMs - (now() - entry.fetchedAt)) } : undefined,
      );
      if (holds(key, entry)) index(entry, addTo);
    },
    storePatched(entry, userId) {
      const key = keyOf(entry.kind, entry.id);
      // Not through `dispose`: the index changes for the one user the patch touched, below.
      entries.set(key, entry, { noUpdateTTL: true, noDisposeOnSet: true });
      const users = KINDS[entry.kind].users?.(entry.value);
      // Refused (bigger than the bound): the entry it replaced was dropped, and unindexed by `dispose`.
      if (!holds(key, entry) || userId === undefined || !users) return;
      if (users.has(userId)) addTo(organizationsByUser, userId, entry.id);
      else removeFrom(organizationsByUser, userId, entry.id);
    },
    invalidate(kind, id) {
      const entry = entries.peek(keyOf(kind, id));
      if (entry) entry.invalidated = true;
    },
    invalidateAll() {
      for (const entry of entries.values()) entry.invalidated = true;
      notFound.clear();
    },
    organizationsOf: (userId) => [...(organizationsByUser.get(userId) ?? [])],
    membershipListsOf: (organizationId) => [...(usersByOrganization.get(organizationId) ?? [])],
    isNotFound: (organizationId) => notFound.has(organizationId),
    setNotFound(organizationId) {
      notFound.set(organizationId, true);
      for (const kind of ORGANIZATION_KINDS) entries.delete(keyOf(kind, organizationId));
    },
    forgetNotFound: (organizationId) => notFound.delete(organizationId),
    stats: () => ({ entries: entries.size, members: entries.calculatedSize }),
  };
}
