/**
 * The second-level store: one Redis string per cache entry (roster, invitation list, membership list) in the
 * compact encoding of `codec.ts`, expiring with the cache TTL. Reads only here; writes go through the single-flight
 * lease (`single-flight.ts`), so that only a read nobody invalidated meanwhile is ever stored.
 */
import type { CacheKind } from '../team/cache.js';
import { type DecodedCopy, decodeCopy } from './codec.js';
import type { RedisConnection } from './connection.js';
import type { SharedKeys } from './keys.js';

export interface CopyStore {
  /** The copy if there is a fresh one (fetched within `ttlMs`); rejects when Redis is down or slow. */
  get(kind: CacheKind, id: string): Promise<DecodedCopy | undefined>;
  /**
   * Drops copies and their leases (an invalidation): sent on the command connection at once, so every read this
   * replica sends afterwards is ordered after it in Redis.
   */
  drop(entries: Iterable<[CacheKind, string]>): Promise<unknown>;
  /** Drops every copy (a role or permission change: any organization may be affected). */
  dropAll(): Promise<void>;
}

export function createCopyStore(connection: RedisConnection, keys: SharedKeys, ttlMs: number): CopyStore {
  const { command } = connection;
  return {
    async get(kind, id) {
      const text = await command.get(keys.copy(kind, id));
      if (text === null) return undefined;
      const copy = decodeCopy(kind, id, text);
      return copy && Date.now() - copy.fetchedAt < ttlMs ? copy : undefined;
    },
    drop(entries) {
      const names: string[] = [];
      for (const [kind, id] of entries) names.push(keys.copy(kind, id), keys.lease(kind, id));
      return names.length === 0 ? Promise.resolve(0) : command.unlink(...names);
    },
    async dropAll() {
      // SCAN in steps: never one long blocking command on a shared Redis.
      const stream = command.scanStream({ match: keys.copyPattern, count: 500 });
      for await (const batch of stream as AsyncIterable<string[]>) {
        if (batch.length > 0) await command.unlink(...batch);
      }
    },
  };
}
