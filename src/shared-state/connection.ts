/**
 * Every Redis client of a replica is made here (`createRedisClient`), with one connect and reconnect policy; and
 * the two connections of the bus and the shared data, with whether Redis is usable (`createRedisConnection`).
 * `command` carries every command (copies, leases, dedupe, publishes); `subscriber` only listens to the bus (a
 * connection in subscribe mode can do nothing else). The shared Clerk budget has a client of its own
 * (./shared-budget-store.ts): its reservations are on the path of every Clerk call and must not queue behind copies.
 *
 * **Redis failure is not an outage**: every command is bounded (`commandTimeout`), is not retried
 * (`maxRetriesPerRequest: 0`) and, while the connection is down, fails at once instead of queueing
 * (`enableOfflineQueue: false`); callers then carry on without Redis (read Clerk, serve their own cache). ioredis
 * reconnects by itself, with a capped backoff. The first failure of an outage logs one warning; the return logs one
 * line too.
 *
 * **Refused is not unreachable**: a wrong password or an ACL that denies us (`WRONGPASS`, `NOAUTH`,
 * `NOPERM`, from the handshake or from any command a caller hands to `noticeError`) is a misconfiguration that no
 * amount of waiting fixes. It is logged at error level, naming Redis's reply, once per distinct reply until Redis
 * accepts us again, and `refusal()` reports it (the `redis_up` reason, `/readyz`).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';

/**
 * Why Redis is not usable by this replica (`none`: it is): `refused` (authentication or ACL), `unreachable`,
 * `silent` (connected, but the bus is not heard), `catching_up` (reloading what was said while away).
 */
export type RedisDownReason = 'none' | 'refused' | 'unreachable' | 'silent' | 'catching_up';

export interface RedisConnectionOptions {
  url: string;
  /** Upper bound on one command (REDIS_TIMEOUT_MS). */
  timeoutMs: number;
  logger: Logger;
  /** Told when Redis becomes usable or unusable (both connections ready, or not). */
  onHealth?(up: boolean): void;
}

export interface RedisConnection {
  readonly command: Redis;
  readonly subscriber: Redis;
  /** Both connections are ready: worth trying a command. */
  isUp(): boolean;
  /** Redis's reply when it last refused our credentials or permissions, until a connection is accepted again. */
  refusal(): string | undefined;
  /** Looks at a failed command: an authentication or ACL refusal is recorded and logged (see above). */
  noticeError(error: unknown): void;
  /** Forgets the refusals already logged: Redis accepted us all the way (the bus is heard), so a new one is news. */
  accepted(): void;
  close(): Promise<void>;
}

/** Redis's replies that mean "not with these credentials / this ACL user", wherever they show up in a message. */
const REFUSAL = /\b(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|invalid username-password/i;

/** The refusal in an error from ioredis (its own wrapper, e.g. "Ready check failed: NOAUTH …", included), if any. */
export function refusalOf(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  return REFUSAL.test(message) ? message.slice(0, 300) : undefined;
}

/** Reconnect backoff: quick at first (a restarted Redis is back in milliseconds), at most a second apart. */
const reconnectDelay = (attempt: number) => Math.min(25 * 2 ** attempt, 1000);

/** What a client is for; each role has its own command settings (see `ROLES`). */
export type RedisRole = 'command' | 'subscriber' | 'budget';

const ROLES: Record<RedisRole, (timeoutMs: number) => RedisOptions> = {
  command: (timeoutMs) => ({ commandTimeout: timeoutMs, enableOfflineQueue: false }),
  // SUBSCRIBE only: ./redis-bus.ts resubscribes itself on every connect.
  subscriber: () => ({ autoResubscribe: false }),
  // A backstop: the budget itself waits `timeoutMs` for an answer (counting a busy event loop in the answer's
  // favour, which ioredis's own timer would not), and this ends a command that never comes back.
  budget: (timeoutMs) => ({ commandTimeout: timeoutMs * 4, enableOfflineQueue: false }),
};

export interface RedisClientOptions {
  /** REDIS_URL. @default none: required */
  url: string;
  /** What the client is for: names it (`team-graphql:<role>` in CLIENT LIST) and picks its settings. @default none: required */
  role: RedisRole;
  /** Upper bound on one command (REDIS_TIMEOUT_MS); also sets the connect timeout. @default none: required */
  timeoutMs: number;
  /**
   * Told of every connection error. ioredis prints errors nobody listens to, so without this they are dropped: the
   * caller's own health reporting says what matters once. @default ignore
   */
  onError?(error: unknown): void;
}

/**
 * A Redis client: connects at once (a replica must not wait on Redis to start serving), never retries a command,
 * reconnects in the background with a capped backoff, forever.
 */
export function createRedisClient({ url, role, timeoutMs, onError }: RedisClientOptions): Redis {
  const client = new Redis(url, {
    connectTimeout: Math.max(1000, timeoutMs * 4),
    retryStrategy: reconnectDelay,
    lazyConnect: false,
    maxRetriesPerRequest: 0,
    connectionName: `team-graphql:${role}`,
    ...ROLES[role](timeoutMs),
  });
  client.on('error', onError ?? (() => {}));
  return client;
}

export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const { url, timeoutMs, logger } = options;
  const onError = (error: unknown) => {
    noticeError(error);
    check();
  };
  const command = createRedisClient({ url, role: 'command', timeoutMs, onError });
  const subscriber = createRedisClient({ url, role: 'subscriber', timeoutMs, onError });

  let up = false;
  let closing = false;
  let warned = false;
  let refusal: string | undefined;
  const logged = new Set<string>();
  const noticeError = (error: unknown) => {
    const refused = refusalOf(error);
    if (!refused || closing) return;
    refusal = refused;
    if (logged.has(refused)) return;
    logged.add(refused);
    // Named, at error level: the operator must fix REDIS_URL's user or password, or the ACL (waiting will not).
    logger.error(
      'Redis refused this replica (authentication or ACL): check the user and password in REDIS_URL',
      {
        reply: refused,
      },
    );
  };
  const check = () => {
    const now = !closing && command.status === 'ready' && subscriber.status === 'ready';
    if (now === up) return;
    up = now;
    options.onHealth?.(up);
    if (up) {
      refusal = undefined;
      if (warned) logger.info('Redis is back: sharing between replicas resumes', {});
      warned = false;
    } else if (!closing && !warned) {
      warned = true;
      logger.warn(
        'Redis is unreachable: this replica serves from its own cache and reads Clerk itself until it is back',
        {},
      );
    }
  };
  // Connection errors go to `onError`: the health line above says an outage once (and a refusal gets its own line).
  for (const connection of [command, subscriber]) {
    connection.on('ready', check);
    connection.on('close', check);
    connection.on('end', check);
  }

  return {
    command,
    subscriber,
    isUp: () => up,
    refusal: () => refusal,
    noticeError,
    accepted: () => logged.clear(),
    async close() {
      closing = true;
      check();
      command.disconnect();
      subscriber.disconnect();
    },
  };
}
