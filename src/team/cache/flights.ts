/**
 * The single-flight layer: concurrent reads of one key share one Clerk read ("flight", ./flight.ts). lru-cache's
 * `fetch()` shares reads too, but it has no notion of a read that has not reached Clerk yet, of callers that stop
 * waiting, or of a result that must be kept out of the cache while its waiters still get it; a small map of
 * flights says all three.
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
 */

import { OrganizationNotFoundError, UpstreamRefusedError, UpstreamUnavailableError } from '../errors.js';
import type { Priority, RosterPage, SourceRead, TeamSource } from '../types.js';
import {
  type Attempt,
  deadlineWait,
  type Flight,
  type Head,
  type HeadWaiter,
  isUnsent,
  newFlight,
  type Outcome,
  type Waiter,
} from './flight.js';
import { KINDS, keyOf, newEntry } from './kinds.js';
import { type CacheKind, type EntryOf, ReadAbandonedError, type ValueOf } from './types.js';

export interface FlightsOptions {
  source: TeamSource;
  now: () => number;
  /** Keeps a full read's entry (a shared copy's among them): what the cache does with a flight's storable result. */
  store(entry: EntryOf<CacheKind>, sharedCopy: boolean): void;
  /** Clerk says this organization does not exist. */
  notFound(organizationId: string): void;
}

/** Who waits, and until when. */
export interface WaitRequest {
  priority: Priority;
  caller: string | undefined;
  deadline: number | undefined;
}

export type Flights = ReturnType<typeof createFlights>;

export function createFlights({ source, now, store, notFound }: FlightsOptions) {
  /** The flight under way per key (a forced read queued behind it hangs off it as `next`). */
  const flights = new Map<string, Flight>();
  /** Numbers user invalidations, so a waiter can tell whether one came before it joined. */
  let sequence = 0;

  /** Someone still needs its answer: an interactive waiter, or anyone while its result can still be stored. */
  function wanted(flight: Flight): boolean {
    if (flight.headWaiters.size > 0) return true;
    if (flight.state !== 'detached') return flight.waiters.size > 0;
    for (const waiter of flight.waiters) if (waiter.priority === 'interactive') return true;
    return false;
  }

  function begin(flight: Flight) {
    flight.state = 'unsent';
    flights.set(flight.key, flight);
    launch(flight);
  }

  /** Its first Clerk call was sent (or a shared copy answers it, dated by that copy's read). */
  function sent(flight: Flight, at: number) {
    flight.startedAt = at;
    if (isUnsent(flight)) flight.state = 'sent';
  }

  /** Starts (or restarts, at its waiters' priority) the source read of a flight. */
  function launch<K extends CacheKind>(flight: Flight<K>) {
    let interactive: Waiter<K> | undefined;
    let deadline: number | undefined;
    let unbounded = false;
    for (const waiter of flight.waiters) {
      if (!interactive && waiter.priority === 'interactive') interactive = waiter;
      // The most patient waiter's deadline; one without a deadline leaves it to the upstream policy's default.
      if (waiter.deadline === undefined) unbounded = true;
      else deadline = Math.max(deadline ?? waiter.deadline, waiter.deadline);
    }
    const priority: Priority = interactive ? 'interactive' : 'background';
    const attempt: Attempt = {
      controller: new AbortController(),
      priority,
      headPriority: flight.headWaiters.size > 0 ? 'interactive' : priority,
    };
    const previous = flight.attempt;
    flight.attempt = attempt;
    // A restarted read had sent nothing: its calls waiting for the budget are dropped (any news of it is now old).
    previous?.controller.abort(new ReadAbandonedError('Clerk read re-queued at a higher priority'));
    const headWaiter: HeadWaiter<K> | undefined = flight.headWaiters.values().next().value;
    const sourceRead: SourceRead = {
      priority: attempt.priority,
      headPriority: attempt.headPriority,
      // The cold page's call counts for its user; the rest of the read is background work nobody's own.
      headCaller: headWaiter?.caller,
      onHead: (page) => {
        if (attempt === flight.attempt) gotHead(flight, page);
      },
      caller: (interactive ?? flight.waiters.values().next().value)?.caller,
      deadline: unbounded ? undefined : deadline,
      signal: attempt.controller.signal,
      onCall: () => {
        if (attempt === flight.attempt && flight.startedAt === undefined) sent(flight, now());
      },
      notBefore: flight.notBefore,
      onSharedCopy: (copy) => {
        // Not once it asked Clerk itself, nor after an invalidation (the copy may predate it), nor once settled.
        if (attempt !== flight.attempt || flight.state !== 'unsent') return false;
        flight.shared = copy;
        // Dated by the real Clerk read: an invalidation from now on detaches it, as any read under way.
        sent(flight, copy.readStartedAt);
        return true;
      },
    };
    let reading: Promise<ValueOf<K>>;
    try {
      reading = KINDS[flight.kind].readFrom(source, flight.id, sourceRead);
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

  function settle<K extends CacheKind>(flight: Flight<K>, outcome: Outcome<K>) {
    flight.state = 'settled';
    release(flight);
    const waiters = [...flight.waiters];
    flight.waiters.clear();
    for (const waiter of waiters) waiter.settle(outcome);
    settleHeadWaiters(flight, outcome);
  }

  function settleHeadWaiters<K extends CacheKind>(flight: Flight<K>, outcome: Outcome<K> | Head) {
    const waiters = [...flight.headWaiters];
    flight.headWaiters.clear();
    for (const waiter of waiters) waiter.settle(outcome);
  }

  /** The first page of a roster read arrived: cold pages inside it are answered now, the rest reads on. */
  function gotHead(flight: Flight, page: RosterPage) {
    if (flight.state === 'settled') return;
    flight.head = { page, at: now() };
    settleHeadWaiters(flight, flight.head);
    // A detached read kept going only for them: its remaining pages are dropped.
    if (!wanted(flight)) abandon(flight);
  }

  /** The earliest invalidation of a user the result holds, among those invalidated while it was read. */
  function taintOf<K extends CacheKind>(flight: Flight<K>, value: ValueOf<K>): number | undefined {
    const users = flight.invalidatedUsers && KINDS[flight.kind].users?.(value);
    if (!flight.invalidatedUsers || !users) return undefined;
    let taintedAt: number | undefined;
    for (const [userId, at] of flight.invalidatedUsers) {
      if (users.has(userId) && (taintedAt === undefined || at < taintedAt)) taintedAt = at;
    }
    return taintedAt;
  }

  function succeed<K extends CacheKind>(flight: Flight<K>, value: ValueOf<K>) {
    if (flight.state === 'settled') return;
    const { head, shared } = flight;
    const entry = newEntry(flight.kind, flight.id, value, {
      // A roster that was all in its first page was read when that page came (a cold page said so already).
      fetchedAt:
        shared?.fetchedAt ?? (head && head.page.members.length >= head.page.totalCount ? head.at : now()),
      readStartedAt: shared?.readStartedAt ?? flight.startedAt ?? flight.createdAt,
      invalidated: false,
    });
    const taintedAt = taintOf(flight, value);
    if (flight.state !== 'detached' && taintedAt === undefined) store(entry, shared !== undefined);
    settle(flight, { entry, taintedAt, shared: shared !== undefined });
  }

  function fail(flight: Flight, error: unknown) {
    if (flight.state === 'settled') return;
    const detached = flight.state === 'detached';
    if (!detached && error instanceof OrganizationNotFoundError && KINDS[flight.kind].organizationPart) {
      notFound(flight.id);
    }
    settle(flight, { error });
  }

  /** Nobody needs its answer: its Clerk calls not sent yet are dropped (the upstream removes aborted calls). */
  function abandon(flight: Flight) {
    // A queued forced read is simply not begun when its turn comes.
    if (flight.state === 'queued' || flight.state === 'settled') return;
    flight.attempt?.controller.abort(new ReadAbandonedError());
    settle(flight, { error: new ReadAbandonedError() }); // only background waiters of a detached read are left
  }

  /** An invalidation: a flight that has sent a call must not store its (possibly older) result. */
  function detach(flight: Flight) {
    // Not sent yet: it will read Clerk after this change, so it may still be stored (but not answer from a copy).
    if (flight.state === 'unsent') flight.state = 'unsent-invalidated';
    if (flight.state !== 'sent') return;
    flight.state = 'detached';
    release(flight);
    if (!wanted(flight)) abandon(flight);
  }

  function join<K extends CacheKind>(flight: Flight<K>, waiter: Waiter<K>) {
    flight.waiters.add(waiter);
    // An interactive caller must not wait behind background work: a read not sent yet is re-queued at its priority.
    if (isUnsent(flight) && waiter.priority === 'interactive' && flight.attempt?.priority === 'background') {
      launch(flight);
    }
  }

  function leave<K extends CacheKind>(flight: Flight<K>, waiter: Waiter<K>) {
    if (!flight.waiters.delete(waiter) || flight.state === 'settled') return;
    if (!wanted(flight)) abandon(flight);
  }

  /** What a waiter whose deadline passed is told: the read could not be sent in time, or Clerk did not answer. */
  const pastDeadline = (flight: Flight | undefined) =>
    flight?.startedAt === undefined
      ? new UpstreamRefusedError('deadline', 1)
      : new UpstreamUnavailableError('Clerk did not answer before the request deadline', undefined);

  return {
    /** The key's flight under way, if any. */
    find<K extends CacheKind>(kind: K, id: string): Flight<K> | undefined {
      // The key names the kind, so the flight under it is of that kind.
      return flights.get(keyOf(kind, id)) as Flight<K> | undefined;
    },
    create: <K extends CacheKind>(kind: K, id: string, notBefore?: number) =>
      newFlight(kind, id, now(), notBefore),
    /** Every flight under way, as a list (detaching one changes the map). */
    all: () => [...flights.values()],
    size: () => flights.size,
    /** How many user invalidations so far: a waiter compares it with a result's `taintedAt`. */
    sequence: () => sequence,
    wanted,
    begin,
    launch,
    abandon,
    detach,
    pastDeadline,

    /** Begins (`start`) or joins a flight and waits for it, at most until the deadline. */
    wait<K extends CacheKind>(flight: Flight<K>, start: boolean, request: WaitRequest): Promise<Outcome<K>> {
      const { promise, settle } = deadlineWait<Outcome<K>>(request.deadline, now, () => {
        const error = pastDeadline(flight);
        leave(flight, waiter);
        return { error };
      });
      const waiter: Waiter<K> = { ...request, settle };
      if (start) {
        flight.waiters.add(waiter);
        begin(flight);
      } else join(flight, waiter);
      return promise;
    },

    /**
     * A user was invalidated (or their profile patched): every roster read already sent notes it, and is kept from
     * the cache if its result holds them.
     */
    markUserInvalidated(userId: string) {
      const at = ++sequence;
      for (const flight of flights.values()) {
        if (flight.kind !== 'members' || flight.startedAt === undefined) continue;
        flight.invalidatedUsers ??= new Map();
        if (!flight.invalidatedUsers.has(userId)) flight.invalidatedUsers.set(userId, at);
      }
    },
  };
}
