/**
 * A read of one key: a fresh cached copy, else the key's flight (joined or begun), else, when Clerk fails, the
 * stale copy if stale-if-error allows. A forced read is served only by a Clerk read that began at or after its
 * request (see "forceRefresh" in ./flights.ts).
 */
import { OrganizationNotFoundError, UpstreamRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import type { Outcome } from './flight.js';
import type { Flights } from './flights.js';
import { KINDS } from './kinds.js';
import { type Storage, served } from './storage.js';
import type { CacheKind, CacheOutcome, CacheRead, EntryOf, ReadOptions, ValueOf } from './types.js';

export interface ReadsOptions {
  storage: Storage;
  flights: Flights;
  /** How long past the TTL an entry may still be served when Clerk fails; 0 disables stale-if-error. */
  staleGraceMs: number;
  now: () => number;
  observe(kind: CacheKind, outcome: CacheOutcome): void;
}

/** Failures where an old answer beats no answer. A missing organization is not one: it is gone. */
const canServeStale = (error: unknown) =>
  error instanceof UpstreamUnavailableError || error instanceof UpstreamRateLimitedError;

export type Reads = ReturnType<typeof createReads>;

export function createReads({ storage, flights, staleGraceMs, now, observe }: ReadsOptions) {
  /**
   * Clerk could not be read: the copy held now (or the one the read started from, if the LRU dropped it since),
   * served as stale, if stale-if-error allows; else the error.
   */
  function staleOrThrow<K extends CacheKind>(
    kind: K,
    id: string,
    cached: EntryOf<K> | undefined,
    error: unknown,
  ): CacheRead<ValueOf<K>> {
    const copy = storage.get(kind, id) ?? cached;
    if (copy && staleGraceMs > 0 && canServeStale(error)) {
      observe(kind, 'stale');
      return served(copy, true, true);
    }
    throw error;
  }

  async function read<K extends CacheKind>(
    kind: K,
    id: string,
    options: ReadOptions = {},
  ): Promise<CacheRead<ValueOf<K>>> {
    const { forceRefresh = false, deadline, caller, priority = 'interactive' } = options;
    const requestedAt = options.requestedAt ?? now();
    if (KINDS[kind].organizationPart && storage.isNotFound(id)) {
      observe(kind, 'not_found');
      throw new OrganizationNotFoundError(id);
    }
    const cached = storage.get(kind, id);
    if (cached && storage.isFresh(cached) && (!forceRefresh || cached.readStartedAt >= requestedAt)) {
      observe(kind, 'hit');
      return served(cached, true, false);
    }
    for (;;) {
      let outcome: Outcome<K>;
      if (deadline !== undefined && deadline - now() <= 0) {
        outcome = { error: flights.pastDeadline(undefined) };
      } else {
        let flight = flights.find(kind, id);
        // A forced read cannot use a read begun before its request: it shares the one queued behind it.
        if (forceRefresh && flight?.startedAt !== undefined && flight.startedAt < requestedAt) {
          flight.next ??= flights.create(kind, id, requestedAt);
          flight = flight.next;
        }
        observe(kind, flight ? 'inflight' : 'miss');
        const joinedAfter = flights.sequence();
        outcome = await flights.wait(
          flight ?? flights.create(kind, id, forceRefresh ? requestedAt : undefined),
          !flight,
          { priority, caller, deadline },
        );
        // It holds a user invalidated before this caller asked: read again, as after any invalidation.
        if ('entry' in outcome && outcome.taintedAt !== undefined && outcome.taintedAt <= joinedAfter)
          continue;
        // A forced caller joined before the source answered from a shared copy older than its request: read again.
        if ('entry' in outcome && outcome.shared && forceRefresh && outcome.entry.readStartedAt < requestedAt)
          continue;
      }
      if ('entry' in outcome) return served(outcome.entry, outcome.shared, false);
      return staleOrThrow(kind, id, cached, outcome.error);
    }
  }

  return { read, staleOrThrow };
}
