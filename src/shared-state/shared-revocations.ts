/**
 * Revocation records every replica knows: each is applied on every replica through the bus (with the effects that
 * carry it), and also kept in one Redis hash, so that a replica that (re)connects — a new one, or one that missed
 * messages — records them too before it trusts anything older. Entries past the retention are pruned on load.
 */

import type { Revocation } from '../team/effects.js';
import type { Revocations } from '../team/revocations.js';
import type { RedisConnection } from './connection.js';
import type { SharedKeys } from './keys.js';

export interface SharedRevocations {
  /** Adds records to the hash, as a MULTI step of the publisher's invalidation (see index.ts). */
  fields(revocations: readonly Revocation[], at: number): string[];
  /** Records every record still within the retention into this replica's revocations. */
  load(into: Revocations): Promise<number>;
}

const fieldOf = ({ userId, organizationId }: Revocation) => `${userId} ${organizationId}`;

export function createSharedRevocations(
  connection: RedisConnection,
  keys: SharedKeys,
  retentionMs: number,
): SharedRevocations {
  return {
    fields(revocations, at) {
      return revocations.flatMap((revocation) => [fieldOf(revocation), String(at)]);
    },
    async load(into) {
      const records = await connection.command.hgetall(keys.revocations);
      const expired: string[] = [];
      let loaded = 0;
      for (const [field, at] of Object.entries(records)) {
        const [userId, organizationId] = field.split(' ');
        if (!userId || !organizationId || !(Date.now() - Number(at) < retentionMs)) {
          expired.push(field);
          continue;
        }
        // Recorded now rather than at its time: later is only stricter (it voids more evidence, never less).
        into.record(userId, organizationId);
        loaded++;
      }
      if (expired.length > 0) await connection.command.hdel(keys.revocations, ...expired);
      return loaded;
    },
  };
}
