/**
 * One Clerk read of one key shared by everyone who needs it (a "flight"), as data: its states, its waiters, and
 * the deadline wait both kinds of waiter use. ./flights.ts moves flights between the states.
 */

import type { Priority, RosterPage, SharedCopy } from '../types.js';
import { keyOf } from './kinds.js';
import type { CacheKind, EntryOf } from './types.js';

/**
 * Where a flight is. It moves only forward: queued → unsent → (unsent-invalidated) → sent → (detached) → settled;
 * it may settle from any begun state (answered, failed, abandoned).
 */
export type FlightState =
  /** Not begun: a forced read queued behind the one under way (its `next`), or one about to begin. */
  | 'queued'
  /**
   * Begun, no Clerk call sent yet (waiting for the budget). It reads Clerk after any change announced so far, so an
   * invalidation leaves it alone and forced callers may join it; an interactive caller re-queues it at its priority.
   */
  | 'unsent'
  /**
   * Unsent, and an invalidation reached it: still storable (it will read Clerk after the change), but a copy
   * another replica read meanwhile may predate the change, so it must not answer from one.
   */
  | 'unsent-invalidated'
  /** Its first Clerk call was sent, or it answered from a shared copy (`startedAt` says when that read began). */
  | 'sent'
  /**
   * An invalidation landed after it was sent: its answer goes to the waiters it has, never to the cache; it is no
   * longer the key's flight, so nobody new joins it.
   */
  | 'detached'
  /** Answered, failed or abandoned: every waiter has been told. */
  | 'settled';

/** How a flight ended for one waiter. */
export type Outcome<K extends CacheKind> =
  | {
      entry: EntryOf<K>;
      /**
       * The invalidation (sequence number) of the earliest user invalidated during the read whom the result holds:
       * a waiter who joined after it must read again.
       */
      taintedAt: number | undefined;
      /** Answered from a copy another replica read (see `SourceRead.onSharedCopy`). */
      shared: boolean;
    }
  | { error: unknown };

/** A roster read's first Clerk page, and when it came: it answers cold pages inside it. */
export interface Head {
  page: RosterPage;
  at: number;
}

export interface Waiter<K extends CacheKind> {
  readonly priority: Priority;
  readonly caller: string | undefined;
  readonly deadline: number | undefined;
  settle(outcome: Outcome<K>): void;
}

/** A cold page waiting for a roster flight's first Clerk page (or for how the flight ended without one). */
export interface HeadWaiter<K extends CacheKind = 'members'> {
  readonly caller: string | undefined;
  settle(outcome: Outcome<K> | Head): void;
}

/** One start of a flight's source read (a background read not sent yet is restarted as interactive). */
export interface Attempt {
  /** Aborts it: its Clerk calls waiting for the budget are dropped. */
  readonly controller: AbortController;
  readonly priority: Priority;
  /** Rosters: the priority of its first page (interactive while cold pages wait for it). */
  readonly headPriority: Priority;
}

export interface Flight<K extends CacheKind = CacheKind> {
  readonly kind: K;
  readonly id: string;
  readonly key: string;
  readonly createdAt: number;
  state: FlightState;
  /** When its first Clerk call was sent (or the shared copy's read began); undefined until then. */
  startedAt: number | undefined;
  readonly waiters: Set<Waiter<K>>;
  /** Rosters: cold pages waiting for the first page; they make its call (only) interactive. */
  readonly headWaiters: Set<HeadWaiter<K>>;
  /** Rosters: users invalidated while the read was sent (→ sequence number of the first such invalidation). */
  invalidatedUsers: Map<string, number> | undefined;
  /** The forced read that begins once this one settles (or is detached), shared by every forced caller meanwhile. */
  next: Flight<K> | undefined;
  /** The current attempt: news from an earlier one (answers, calls, pages) is ignored. Undefined until begun. */
  attempt: Attempt | undefined;
  /** Rosters: the read's first Clerk page once it arrived. */
  head: Head | undefined;
  // Shared copies (several replicas): see SourceRead.notBefore / onSharedCopy.
  /** Forced reads: no copy read from Clerk before this may answer. */
  notBefore: number | undefined;
  /** The dates of the shared copy the source answered with, if it did. */
  shared: SharedCopy | undefined;
}

export function newFlight<K extends CacheKind>(
  kind: K,
  id: string,
  createdAt: number,
  notBefore?: number,
): Flight<K> {
  return {
    kind,
    id,
    key: keyOf(kind, id),
    createdAt,
    state: 'queued',
    startedAt: undefined,
    waiters: new Set(),
    headWaiters: new Set(),
    invalidatedUsers: undefined,
    next: undefined,
    attempt: undefined,
    head: undefined,
    notBefore,
    shared: undefined,
  };
}

/** Begun and no call sent yet: invalidations leave it alone, and it may still be re-queued at a higher priority. */
export const isUnsent = (flight: Flight) =>
  flight.state === 'unsent' || flight.state === 'unsent-invalidated';

/**
 * A wait that ends at `settle`, or at the deadline if that comes first: then the timer's `onTimeout` takes the
 * waiter off what it waited for and says what it is told. Without a deadline it waits for `settle` alone.
 */
export function deadlineWait<T>(
  deadline: number | undefined,
  now: () => number,
  onTimeout: () => T,
): { promise: Promise<T>; settle(result: T): void } {
  let resolve: (result: T) => void = () => {};
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== undefined) {
    timer = setTimeout(() => resolve(onTimeout()), Math.max(0, deadline - now()));
  }
  return {
    promise,
    settle(result) {
      if (timer) clearTimeout(timer);
      resolve(result);
    },
  };
}
