/**
 * Idempotency keys in Redis (the store behind src/actions/idempotency.ts when REDIS_URL is set): a retry that
 * reaches another replica replays the first answer too. One hash per user + key (`keys.idempotency(scope)`):
 * `s` state (running, unknown, done), `f` fingerprint, `t` the holding attempt's token, `l` its lease's end (Redis's
 * clock, so replicas' clocks do not matter), `r` taken as a retry of an unknown outcome, `a` the answer. Every step
 * is one script: two replicas can never both take a key. The hash expires 24 hours after its creation.
 *
 * **Redis unreachable, paused or refusing us**: every call rejects (at once while the connection is down, after
 * REDIS_TIMEOUT_MS when Redis does not answer), and the keyed mutation is refused (`UPSTREAM_UNAVAILABLE`), never
 * executed on a local guess: this replica cannot know whether another one already ran it. A settle that fails
 * leaves the key running until its lease lapses; the next attempt then executes as a reconciling retry. So does a
 * claim we gave up on that a paused Redis runs when it wakes: the key is held by an attempt that never ran, for
 * one lease, and the retry after it reconciles (the safe side: never a second write, at worst one Clerk read).
 *
 * A running duplicate is waited for by polling (from 10 ms, doubling, at most 200 ms apart): duplicates are rare,
 * and a poll needs no bus message of its own.
 */
import type { IdempotencyClaim, IdempotencyStore } from '../actions/idempotency.js';
import { IDEMPOTENCY_TTL_MS } from '../actions/idempotency.js';
import type { RedisConnection } from './connection.js';

const NOW_MS = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`;

/** KEYS: record. ARGV: fingerprint, token, lease (ms), ttl (ms). */
const CLAIM = `${NOW_MS}
local record = redis.call('HMGET', KEYS[1], 's', 'f', 'l')
if not record[1] then
  redis.call('HSET', KEYS[1], 's', 'running', 'f', ARGV[1], 't', ARGV[2], 'l', now + tonumber(ARGV[3]), 'r', '0')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'acquired', '0'}
end
if record[2] ~= ARGV[1] then return {'reused'} end
if record[1] == 'done' then return {'done', redis.call('HGET', KEYS[1], 'a') or ''} end
if record[1] == 'running' and tonumber(record[3]) > now then return {'running', tostring(tonumber(record[3]) - now)} end
redis.call('HSET', KEYS[1], 's', 'running', 't', ARGV[2], 'l', now + tonumber(ARGV[3]), 'r', '1')
redis.call('HDEL', KEYS[1], 'a')
return {'acquired', '1'}`;

/** KEYS: record. ARGV: token, lease (ms). */
const RENEW = `${NOW_MS}
local record = redis.call('HMGET', KEYS[1], 's', 't')
if record[1] ~= 'running' or record[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'l', now + tonumber(ARGV[2]))
return 1`;

/** KEYS: record. ARGV: token, settlement (done, unknown, release), answer. */
const SETTLE = `local record = redis.call('HMGET', KEYS[1], 's', 't', 'r')
if record[1] ~= 'running' or record[2] ~= ARGV[1] then return 0 end
if ARGV[2] == 'done' then
  redis.call('HSET', KEYS[1], 's', 'done', 'a', ARGV[3])
elseif ARGV[2] == 'unknown' or record[3] == '1' then
  redis.call('HSET', KEYS[1], 's', 'unknown')
else
  redis.call('DEL', KEYS[1])
end
return 1`;

export interface RedisIdempotencyStoreOptions {
  /** The Redis layer's connections (src/shared-state/connection.ts); commands go on `command`. Required. */
  connection: RedisConnection;
  /** The record's Redis key for a scope (src/shared-state/keys.ts). Required. */
  keyOf(scope: string): string;
  /** How long a record lives from its creation. @default 24 hours */
  ttlMs?: number;
}

/** Thrown at once while Redis is known to be down: an offline queue would only make the caller wait to fail. */
export class IdempotencyStoreUnavailableError extends Error {
  constructor() {
    super('Redis is unreachable: idempotency keys cannot be read');
    this.name = 'IdempotencyStoreUnavailableError';
  }
}

export function createRedisIdempotencyStore(options: RedisIdempotencyStoreOptions): IdempotencyStore {
  const { connection, keyOf } = options;
  const ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MS;
  const run = async (script: string, scope: string, ...args: (string | number)[]): Promise<unknown> => {
    if (!connection.isUp()) throw new IdempotencyStoreUnavailableError();
    try {
      return await connection.command.eval(script, 1, keyOf(scope), ...args);
    } catch (error) {
      connection.noticeError(error);
      throw error;
    }
  };
  return {
    async claim(scope, fingerprint, token, leaseMs): Promise<IdempotencyClaim> {
      const [kind, value] = (await run(CLAIM, scope, fingerprint, token, leaseMs, ttlMs)) as [
        string,
        string?,
      ];
      if (kind === 'acquired') return { kind, retryOfUnknownOutcome: value === '1' };
      if (kind === 'done') return { kind, answer: value ?? '' };
      if (kind === 'running') return { kind, leaseLeftMs: Number(value) };
      return { kind: 'reused' };
    },
    async renew(scope, token, leaseMs) {
      return (await run(RENEW, scope, token, leaseMs)) === 1;
    },
    async settle(scope, token, settlement) {
      const answer = settlement.kind === 'done' ? settlement.answer : '';
      return (await run(SETTLE, scope, token, settlement.kind, answer)) === 1;
    },
    waitForChange(_scope, { maxMs, attempt, signal }) {
      return new Promise<void>((resolve, reject) => {
        const aborted = () => {
          clearTimeout(timer);
          reject(signal?.reason);
        };
        const timer = setTimeout(
          () => {
            signal?.removeEventListener('abort', aborted);
            resolve();
          },
          Math.max(0, Math.min(maxMs, 10 * 2 ** Math.min(attempt, 5), 200)),
        );
        if (signal?.aborted) aborted();
        else signal?.addEventListener('abort', aborted, { once: true });
      });
    },
  };
}
