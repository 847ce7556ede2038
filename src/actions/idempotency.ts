/**
 * Idempotent retries of team actions (Stripe's semantics): a mutation sent with an `Idempotency-Key` runs once per
 * user + key for 24 hours; a retry with the same operation replays the first answer instead of writing again.
 * GraphQL-free: the Yoga plugin (src/graphql/plugins/use-idempotency-keys.ts) turns requests and results into the
 * scope, fingerprint and answer text this module keeps.
 *
 * A key's record, per user + key:
 * - `running`: an attempt holds it, under a lease its holder renews. A holder that dies stops renewing; once the
 *   lease lapses the next attempt takes the key **as a retry of an unknown outcome** (the dead one may have
 *   written before it died), never as a first attempt.
 * - `unknown`: the write's outcome is unknown (Clerk timed out, an unexpected failure after the write may have
 *   begun, or an answer too large to keep). The next attempt executes, told to reconcile with Clerk before writing.
 * - `done`: the answer (the ExecutionResult's JSON), replayed to every later attempt with the same fingerprint.
 * Every record also holds the fingerprint of its first operation: the same key with another one is refused.
 *
 * An attempt that ended without executing anything (refused before any write, e.g. RATE_LIMITED) is released: the
 * record goes back to what it was (gone, or `unknown`), so the retry executes as if the first had never come.
 *
 * Two stores: in process (`createMemoryIdempotencyStore`, this module) and in Redis
 * (src/shared-state/idempotency-store.ts), so that a retry reaching another replica replays too.
 */

import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createKeyedWaits } from '../team/keyed-waits.js';

/** What `claim` found (and did, atomically). */
export type IdempotencyClaim =
  /** The key is now held by the caller's token: execute. `retryOfUnknownOutcome`: reconcile before writing. */
  | { kind: 'acquired'; retryOfUnknownOutcome: boolean }
  /** Done earlier: replay this answer (the ExecutionResult's JSON). */
  | { kind: 'done'; answer: string }
  /** Another attempt holds the key; its lease lapses in `leaseLeftMs` unless renewed. */
  | { kind: 'running'; leaseLeftMs: number }
  /** The key was first used with another operation (fingerprint). */
  | { kind: 'reused' };

/** How an attempt ended. */
export type IdempotencySettlement =
  | { kind: 'done'; answer: string }
  | { kind: 'unknown' }
  /** Nothing was executed that a retry must know about: the record returns to what it was before the claim. */
  | { kind: 'release' };

/**
 * Where keys live. Every method is atomic per scope; a method that cannot reach its storage rejects (the caller
 * refuses the keyed mutation rather than risk a second execution).
 */
export interface IdempotencyStore {
  /**
   * Takes the key for `token` when nobody holds it (absent, `unknown`, or a lease that lapsed), else says why not.
   * A new record lives `ttlMs` (the store's) from its creation, whatever happens to it later.
   */
  claim(scope: string, fingerprint: string, token: string, leaseMs: number): Promise<IdempotencyClaim>;
  /** Extends the lease while `token` still holds the key; false when it no longer does. */
  renew(scope: string, token: string, leaseMs: number): Promise<boolean>;
  /** Ends the attempt of `token` (no-op, false, when another attempt took the key since). Wakes the waiters. */
  settle(scope: string, token: string, settlement: IdempotencySettlement): Promise<boolean>;
  /**
   * Resolves when the key may have changed (settled here; for stores that cannot tell, after a short poll delay
   * that grows with `attempt`), at most `maxMs`. Rejects with the signal's reason when it aborts.
   */
  waitForChange(scope: string, wait: { maxMs: number; attempt: number; signal?: AbortSignal }): Promise<void>;
}

/** How long a key is remembered (Stripe keeps them 24 hours). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** Printable ASCII, 1 to 255 characters: what `Idempotency-Key` may hold. */
const VALID_KEY = /^[\x20-\x7e]{1,255}$/;

export function isValidIdempotencyKey(key: string): boolean {
  return VALID_KEY.test(key);
}

/** The record's name: the user's ID and a digest of the key (fixed length, whatever the key holds). */
export function idempotencyScope(userId: string, key: string): string {
  return `${userId}:${createHash('sha256').update(key).digest('base64url')}`;
}

/** A digest of the parts that make an operation what it is (document, operation name, variables). */
export function fingerprintOf(parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return hash.digest('base64url');
}

// --- The driver: claim, wait for a running duplicate, renew the lease, settle. ---

export interface IdempotencyKeysOptions {
  /** Where keys live. Required. */
  store: IdempotencyStore;
  /**
   * Lease of a running attempt: how long a holder that died blocks its key. The holder renews it every third of
   * this while it runs. @default 5000
   */
  leaseMs?: number;
  /**
   * The longest a holder renews its lease, a safety net for an attempt that is never settled (its execution threw
   * past every hook): then the lease lapses and the key becomes usable as an unknown outcome. @default 60000
   */
  maxHoldMs?: number;
  /** Answers larger than this (UTF-8 bytes) are not kept: the key records an `unknown` outcome instead. @default 262144 */
  maxAnswerBytes?: number;
  /** @default Date.now */
  now?: () => number;
}

/** Why a keyed attempt may not execute. */
export type IdempotencyRefusal =
  /** The key was first used with another operation. */
  | 'reused'
  /** Another attempt with this key is still running past this request's deadline: retry later. */
  | 'in_use'
  /** The key's store cannot be reached: executing could write twice, so nothing is executed. */
  | 'unavailable';

export type IdempotentStart =
  | { kind: 'replay'; answer: string }
  | { kind: 'refused'; reason: IdempotencyRefusal }
  | { kind: 'run'; attempt: IdempotentAttempt };

/** A running attempt: the caller executes, then settles it once. */
export interface IdempotentAttempt {
  /** The previous attempt's outcome is unknown: reconcile with Clerk before writing. */
  readonly retryOfUnknownOutcome: boolean;
  /** Keeps the answer for replays (or an `unknown` outcome when it is too large to keep). */
  done(answer: string): Promise<void>;
  /** The write's outcome is unknown: the next attempt reconciles. */
  unknown(): Promise<void>;
  /** Nothing a retry must know about happened: the key returns to what it was. */
  release(): Promise<void>;
}

export interface IdempotencyKeys {
  /**
   * Claims the key, waiting while another attempt runs (until `deadline`, epoch ms, or the signal aborts). Never
   * rejects: a store failure is the refusal `unavailable`.
   */
  start(
    scope: string,
    fingerprint: string,
    wait: { deadline: number; signal?: AbortSignal },
  ): Promise<IdempotentStart>;
}

export function createIdempotencyKeys(options: IdempotencyKeysOptions): IdempotencyKeys {
  const { store } = options;
  const leaseMs = options.leaseMs ?? 5000;
  const maxHoldMs = options.maxHoldMs ?? 60_000;
  const maxAnswerBytes = options.maxAnswerBytes ?? 256 * 1024;
  const now = options.now ?? Date.now;

  function hold(scope: string, token: string, retryOfUnknownOutcome: boolean): IdempotentAttempt {
    const until = now() + maxHoldMs;
    const renewal = setInterval(
      () => {
        if (now() > until) return clearInterval(renewal);
        store.renew(scope, token, leaseMs).then(
          (held) => {
            if (!held) clearInterval(renewal);
          },
          // Unreachable store: the lease may lapse, and the next attempt then reconciles (safe, never a replay).
          () => {},
        );
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    renewal.unref();
    let settled = false;
    const settle = async (settlement: IdempotencySettlement) => {
      if (settled) return;
      settled = true;
      clearInterval(renewal);
      // A store that fails here leaves the key running until its lease lapses: the next attempt then reconciles.
      await store.settle(scope, token, settlement).catch(() => false);
    };
    return {
      retryOfUnknownOutcome,
      done: (answer) =>
        settle(Buffer.byteLength(answer) > maxAnswerBytes ? { kind: 'unknown' } : { kind: 'done', answer }),
      unknown: () => settle({ kind: 'unknown' }),
      release: () => settle({ kind: 'release' }),
    };
  }

  return {
    async start(scope, fingerprint, { deadline, signal }) {
      const token = randomUUID();
      for (let attempt = 0; ; attempt++) {
        let claim: IdempotencyClaim;
        try {
          claim = await store.claim(scope, fingerprint, token, leaseMs);
        } catch {
          return { kind: 'refused', reason: 'unavailable' };
        }
        if (claim.kind === 'acquired') {
          return { kind: 'run', attempt: hold(scope, token, claim.retryOfUnknownOutcome) };
        }
        if (claim.kind === 'done') return { kind: 'replay', answer: claim.answer };
        if (claim.kind === 'reused') return { kind: 'refused', reason: 'reused' };
        const left = deadline - now();
        if (left <= 0) return { kind: 'refused', reason: 'in_use' };
        try {
          // Woken when the holder settles, or its lease may have lapsed (then the claim above takes it over).
          await store.waitForChange(scope, {
            maxMs: Math.min(left, Math.max(1, claim.leaseLeftMs)),
            attempt,
            signal,
          });
        } catch {
          return { kind: 'refused', reason: 'in_use' };
        }
      }
    },
  };
}

// --- In process. ---

interface KeyRecord {
  state: 'running' | 'unknown' | 'done';
  fingerprint: string;
  /** The holding attempt (running), or the last one. */
  token: string;
  /** When the running attempt's lease lapses (epoch ms, the store's clock). */
  leaseUntil: number;
  /** The holder took the key as a retry of an unknown outcome: a release returns it to `unknown`. */
  retry: boolean;
  answer?: string;
}

export interface MemoryIdempotencyStoreOptions {
  /**
   * Bytes the records may retain in all (IDEMPOTENCY_MAX_MB), counted from above as a record retains them (its
   * name, fingerprint, token, answer and objects). Past it the least recently used records are forgotten: a retry
   * of a forgotten key executes again as a first attempt, so keep this well above a day of answers. Required.
   */
  maxBytes: number;
  /** How long a record lives from its creation. @default 24 hours */
  ttlMs?: number;
  /** The clock of leases (a fake one in tests). @default Date.now */
  now?: () => number;
}

// What V8 spends besides the strings' payloads (rounded up, as src/fast-path/prepared-responses.ts counts): the
// record object, the LRU's slots, and each string's header.
const RECORD_OVERHEAD = 400;
const STRING_OVERHEAD = 24;
const stringBytes = (text: string) => STRING_OVERHEAD + Buffer.byteLength(text, 'utf8');

/** What a record keeps alive, from above (V8 stores at most as many bytes as UTF-8 for these strings). */
export function recordBytes(scope: string, record: KeyRecord): number {
  return (
    RECORD_OVERHEAD +
    stringBytes(scope) +
    stringBytes(record.fingerprint) +
    stringBytes(record.token) +
    (record.answer === undefined ? 0 : stringBytes(record.answer))
  );
}

/** Keys in this process only: enough for one replica; with several, a retry on another replica would run again. */
export function createMemoryIdempotencyStore(options: MemoryIdempotencyStoreOptions): IdempotencyStore {
  const now = options.now ?? Date.now;
  const records = new LRUCache<string, KeyRecord>({
    maxSize: Math.max(1, options.maxBytes),
    sizeCalculation: (record, scope) => recordBytes(scope, record),
    ttl: options.ttlMs ?? IDEMPOTENCY_TTL_MS,
  });
  const waits = createKeyedWaits();
  // Updates keep the record's creation-time expiry: a key lives 24 hours from its first use, as Stripe's do.
  const update = (scope: string, record: KeyRecord) => records.set(scope, record, { noUpdateTTL: true });
  const take = (scope: string, record: KeyRecord, token: string, leaseMs: number, retry: boolean) => {
    update(scope, {
      ...record,
      state: 'running',
      token,
      leaseUntil: now() + leaseMs,
      retry,
      answer: undefined,
    });
    return { kind: 'acquired', retryOfUnknownOutcome: retry } as const;
  };

  return {
    async claim(scope, fingerprint, token, leaseMs) {
      const record = records.get(scope);
      if (!record) {
        records.set(scope, {
          state: 'running',
          fingerprint,
          token,
          leaseUntil: now() + leaseMs,
          retry: false,
        });
        return { kind: 'acquired', retryOfUnknownOutcome: false };
      }
      if (record.fingerprint !== fingerprint) return { kind: 'reused' };
      if (record.state === 'done') return { kind: 'done', answer: record.answer ?? '' };
      if (record.state === 'running' && record.leaseUntil > now()) {
        return { kind: 'running', leaseLeftMs: record.leaseUntil - now() };
      }
      // Unknown, or a lease that lapsed: its holder may have written before it stopped.
      return take(scope, record, token, leaseMs, true);
    },
    async renew(scope, token, leaseMs) {
      const record = records.get(scope);
      if (record?.state !== 'running' || record.token !== token) return false;
      record.leaseUntil = now() + leaseMs;
      return true;
    },
    async settle(scope, token, settlement) {
      const record = records.get(scope);
      if (record?.state !== 'running' || record.token !== token) return false;
      if (settlement.kind === 'done') update(scope, { ...record, state: 'done', answer: settlement.answer });
      else if (settlement.kind === 'unknown' || record.retry) update(scope, { ...record, state: 'unknown' });
      else records.delete(scope);
      waits.wake(scope);
      return true;
    },
    waitForChange: (scope, { maxMs, signal }) => waits.wait(scope, maxMs, signal),
  };
}
