/**
 * Webhook dedupe across replicas: Svix retries a delivery until one endpoint answers 2xx, and behind a load balancer
 * a retry may reach another replica. The first replica to claim a `svix-id` (`SET NX PX`, the route's window)
 * processes it; the others answer `duplicate`.
 */
import type { RedisConnection } from './connection.js';
import type { SharedKeys } from './keys.js';

export interface SharedDedupe {
  /** True: first claim, process it. False: another delivery claimed it. Undefined: Redis could not say. */
  claim(messageId: string): Promise<boolean | undefined>;
}

export function createSharedDedupe(
  connection: RedisConnection,
  keys: SharedKeys,
  windowMs: number,
): SharedDedupe {
  return {
    async claim(messageId) {
      if (!connection.isUp()) return undefined;
      try {
        return (await connection.command.set(keys.webhook(messageId), '1', 'PX', windowMs, 'NX')) === 'OK';
      } catch {
        return undefined;
      }
    },
  };
}
