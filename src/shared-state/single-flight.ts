/**
 * Cluster-wide single flight: concurrent cold reads of one cache entry on several replicas make one Clerk read.
 * The first replica takes a short lease (`SET NX PX`), reads Clerk, and writes the copy and drops the lease in one
 * script that also announces it on the bus; the others wait for that notice (or the lease's expiry, polled as a
 * fallback), then read the copy. A holder renews its lease while it reads; a holder that dies stops renewing, its
 * lease expires, and a waiter takes over.
 *
 * The lease doubles as the write guard: an invalidation drops the entry's copy **and its lease** (see
 * `copies.ts`), so a read that was under way when the change was announced can no longer write its result: the
 * script writes only while the lease still holds the writer's token.
 */

import { randomUUID } from 'node:crypto';
import type { CacheKind } from '../team/cache.js';
import { createKeyedWaits } from '../team/keyed-waits.js';
import type { RedisConnection } from './connection.js';
import type { SharedKeys } from './keys.js';

/** KEYS: lease, copy. ARGV: token, copy text, copy ttl (ms), channel, notice. */
const WRITE_IF_HELD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
return 0`;
/** KEYS: lease. ARGV: token, channel, notice. */
const RELEASE_IF_HELD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0`;
/** KEYS: lease. ARGV: token, ttl (ms). */
const RENEW_IF_HELD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

export interface Lease {
  readonly key: string;
  /** Writes the copy if the lease still holds (nobody invalidated the entry meanwhile); true if written. */
  write(text: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up without a copy (the read failed): waiters look again, one takes over. */
  release(): Promise<unknown>;
}

export interface ClusterSingleFlight {
  /**
   * Takes the lease of an entry, or learns that another replica holds it (undefined). `steal`: take it even then
   * (a forced read must not wait for an older one); the older holder's write is then refused. Rejects when Redis is
   * down or slow.
   */
  take(kind: CacheKind, id: string, steal: boolean): Promise<Lease | undefined>;
  /**
   * Waits until the lease on `key` ends (its notice), at most `ms`; rejects with the signal's reason if it aborts.
   */
  waitForNotice(key: string, ms: number, signal: AbortSignal | undefined): Promise<void>;
  /** A lease ended (bus notice): wakes its waiters in this replica. */
  notice(key: string): void;
  /** The lease key of an entry (what notices name). */
  keyOf(kind: CacheKind, id: string): string;
}

export interface ClusterSingleFlightOptions {
  connection: RedisConnection;
  keys: SharedKeys;
  /** Lease lifetime without renewal: how long waiters wait for a holder that died. */
  leaseMs: number;
  /** The notice sent when a lease ends, as the bus encodes it. */
  noticeFor(key: string): string;
}

export function createClusterSingleFlight(options: ClusterSingleFlightOptions): ClusterSingleFlight {
  const { connection, keys, leaseMs, noticeFor } = options;
  const { command } = connection;
  const waits = createKeyedWaits();

  return {
    async take(kind, id, steal) {
      const key = keys.lease(kind, id);
      const token = randomUUID();
      const taken = steal
        ? await command.set(key, token, 'PX', leaseMs)
        : await command.set(key, token, 'PX', leaseMs, 'NX');
      if (taken !== 'OK') return undefined;
      // Renewed while the holder reads (a long roster takes several pages); stops when the lease ends either way.
      const renewal = setInterval(
        () => {
          command.eval(RENEW_IF_HELD, 1, key, token, leaseMs).then(
            (held) => {
              if (held !== 1) clearInterval(renewal);
            },
            () => {},
          );
        },
        Math.max(10, Math.floor(leaseMs / 3)),
      );
      renewal.unref();
      return {
        key,
        async write(text, ttlMs) {
          clearInterval(renewal);
          const written = await command.eval(
            WRITE_IF_HELD,
            2,
            key,
            keys.copy(kind, id),
            token,
            text,
            Math.max(1, Math.round(ttlMs)),
            keys.bus,
            noticeFor(key),
          );
          return written === 1;
        },
        release() {
          clearInterval(renewal);
          return command.eval(RELEASE_IF_HELD, 1, key, token, keys.bus, noticeFor(key));
        },
      };
    },
    waitForNotice: (key, ms, signal) => waits.wait(key, ms, signal),
    keyOf: (kind, id) => keys.lease(kind, id),
    notice(key) {
      waits.wake(key);
    },
  };
}
