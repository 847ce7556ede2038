/**
 * Webhook dedupe across replicas: Svix retries a delivery until one endpoint answers 2xx, and behind a load balancer
 * a retry may reach another replica. A delivery is *done* only once its effects are on the bus: the key is set to
 * `done` in the same MULTI that publishes them (see index.ts), so a delivery whose effects could not be published
 * (answered 503) is processed again when Clerk retries it, never swallowed as a duplicate (applying
 * effects twice is harmless: revocations and invalidations are idempotent, patches are versioned).
 *
 * While one replica processes a delivery it holds a short claim (`SET NX PX`, `pending`): the same delivery reaching
 * another replica meanwhile is told to come back later (`busy`) rather than answered 2xx before anything is
 * published. A claim whose holder failed expires on its own.
 */
import type { RedisConnection } from './connection.js';
import type { SharedKeys } from './keys.js';

/** `first`: process it. `duplicate`: done already. `busy`: another replica is on it. Undefined: Redis cannot say. */
export type DedupeClaim = 'first' | 'duplicate' | 'busy' | undefined;

export interface SharedDedupe {
  claim(messageId: string): Promise<DedupeClaim>;
  /** The MULTI step that marks a delivery done, for the route's window. */
  done(messageId: string): [key: string, value: string, px: 'PX', windowMs: number];
}

const DONE = 'done';

export function createSharedDedupe(
  connection: RedisConnection,
  keys: SharedKeys,
  windowMs: number,
  claimMs: number,
): SharedDedupe {
  return {
    async claim(messageId) {
      if (!connection.isUp()) return undefined;
      const key = keys.webhook(messageId);
      try {
        if ((await connection.command.set(key, 'pending', 'PX', claimMs, 'NX')) === 'OK') return 'first';
        const held = await connection.command.get(key);
        // Gone meanwhile (a failed holder's claim expired): ours to process.
        if (held === null) return 'first';
        // `1`: what earlier versions wrote for a processed delivery.
        return held === DONE || held === '1' ? 'duplicate' : 'busy';
      } catch {
        return undefined;
      }
    },
    done: (messageId) => [keys.webhook(messageId), DONE, 'PX', windowMs],
  };
}
