/**
 * Team actions across replicas: one at a time per organization, through a Redis lease (`SET NX PX` with a token,
 * released only by its holder). A holder's lease lasts until its action's deadline (plus a margin): an action never
 * outlives its request, and a crashed replica's lease expires by itself.
 *
 * When Redis cannot be asked (down, slow, refusing us) the action goes on under its replica's own lock: writes stay
 * available during an outage, and Clerk's own checks (the last admin, the seat limit, duplicate invitations) still
 * refuse what two replicas could otherwise both allow; its refusals map to the same codes.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import { UpstreamUnavailableError } from '../team/errors.js';
import type { OrganizationLease } from '../team/writer.js';
import type { RedisConnection } from './connection.js';
import type { SharedKeys } from './keys.js';

/** Released only by the token that took it (a lease that expired and was taken by another is left alone). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
/** Lease past the deadline: the holder's last Redis reply may arrive that late. */
const MARGIN_MS = 1000;
/** How often a waiter asks again (a handful of tries within a write's round trip). */
const POLL_MS = 25;

export function createOrganizationLease(
  connection: RedisConnection,
  keys: SharedKeys,
  logger: Logger,
): OrganizationLease {
  const { command } = connection;
  const unleased = async () => {};
  return {
    async acquire(organizationId, deadline) {
      const key = keys.actionLease(organizationId);
      const token = randomUUID();
      for (;;) {
        const ttl = Math.max(1, deadline - Date.now()) + MARGIN_MS;
        let taken: string | null;
        try {
          if (!connection.isUp()) throw new Error('Redis is down');
          taken = await command.set(key, token, 'PX', ttl, 'NX');
        } catch (error) {
          connection.noticeError(error);
          logger.warn('team action lease unavailable (Redis): going on under this replica’s lock', {
            organizationId,
          });
          return unleased;
        }
        if (taken === 'OK') {
          return async () => {
            await command
              .eval(RELEASE, 1, key, token)
              .catch((error: unknown) => connection.noticeError(error));
          };
        }
        if (Date.now() + POLL_MS >= deadline) {
          throw new UpstreamUnavailableError(
            'Another change to this organization is under way on another replica: retry in a moment.',
            undefined,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
  };
}
