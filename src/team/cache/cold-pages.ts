/**
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
 */
import { ROSTER_PAGE_SIZE, type TeamSource } from '../types.js';
import {
  deadlineWait,
  type Flight,
  type Head,
  type HeadWaiter,
  isUnsent,
  type Outcome,
  type Waiter,
} from './flight.js';
import type { Flights } from './flights.js';
import { nextVersion } from './kinds.js';
import type { Reads } from './reads.js';
import { type Storage, served } from './storage.js';
import type { CacheKind, CacheOutcome, PageRead, ReadOptions } from './types.js';

export interface ColdPagesOptions {
  source: TeamSource;
  storage: Storage;
  flights: Flights;
  reads: Reads;
  now: () => number;
  observe(kind: CacheKind, outcome: CacheOutcome): void;
}

/** A page this request read with its own call: dated by that call (a head is dated by its flight's). */
interface OwnPage extends Head {
  startedAt?: number;
}

interface PageRequest {
  caller: string | undefined;
  deadline: number | undefined;
}

export function createColdPages({ source, storage, flights, reads, now, observe }: ColdPagesOptions) {
  /** Waits for a flight's first page, at most until the deadline (a cold page inside it). */
  function waitHead(flight: Flight<'members'>, request: PageRequest): Promise<Outcome<'members'> | Head> {
    const { promise, settle } = deadlineWait<Outcome<'members'> | Head>(request.deadline, now, () => {
      const error = flights.pastDeadline(flight);
      flight.headWaiters.delete(waiter);
      if (flight.state !== 'settled' && !flights.wanted(flight)) flights.abandon(flight);
      return { error };
    });
    const waiter: HeadWaiter = { caller: request.caller, settle };
    flight.headWaiters.add(waiter);
    return promise;
  }

  /**
   * A cold page deeper than the head: its own interactive Clerk call, beside the flight. The upstream policy ends it
   * at the request's deadline (refused if it could not start, timed out if Clerk has not answered).
   */
  function readOwnPage(
    id: string,
    page: { limit: number; offset: number },
    request: PageRequest,
  ): Promise<Outcome<'members'> | OwnPage> {
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
        (head) => ({ page: head, at: now(), startedAt: startedAt ?? now() }),
        (error: unknown) => ({ error }),
      );
  }

  return async function readPage(
    id: string,
    page: { limit: number; offset: number },
    options: ReadOptions = {},
  ): Promise<PageRead> {
    const { deadline, caller } = options;
    const cached = storage.get('members', id);
    if (
      options.forceRefresh ||
      options.priority === 'background' ||
      storage.isNotFound(id) ||
      (cached && storage.isFresh(cached)) ||
      (deadline !== undefined && deadline - now() <= 0)
    ) {
      return { roster: await reads.read('members', id, options) };
    }
    const running = flights.find('members', id);
    const flight = running ?? flights.create('members', id);
    observe('members', running ? 'inflight' : 'miss');
    // A read that holds a user invalidated since it began may show them as they were: not for a later caller.
    const lendsHead = flight.invalidatedUsers === undefined;
    const inHead = page.offset + page.limit <= ROSTER_PAGE_SIZE;
    let outcome: Outcome<'members'> | OwnPage;
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
      const warmer: Waiter<'members'> = {
        priority: 'background',
        caller: undefined,
        deadline: undefined,
        settle() {},
      };
      flight.waiters.add(warmer);
      if (!running) flights.begin(flight);
      else if (isUnsent(flight) && flight.attempt?.headPriority !== 'interactive' && inHead)
        flights.launch(flight); // not sent yet: re-queued with an interactive first page
      outcome = await waiting;
    }
    if ('page' in outcome) {
      const { page: head, at } = outcome;
      const start = page.offset - head.offset;
      return {
        page: {
          value: { ...head, offset: page.offset, members: head.members.slice(start, start + page.limit) },
          fetchedAt: at,
          readStartedAt: outcome.startedAt ?? flight.startedAt ?? flight.createdAt,
          fromCache: false,
          stale: false,
          // Never stored: a number no entry has.
          version: nextVersion(),
        },
      };
    }
    if ('entry' in outcome) return { roster: served(outcome.entry, outcome.shared, false) };
    return { roster: reads.staleOrThrow('members', id, cached, outcome.error) };
  };
}
