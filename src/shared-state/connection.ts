/**
 * The two Redis connections of a replica and whether Redis is usable. `command` carries every command (copies,
 * leases, dedupe, publishes); `subscriber` only listens to the bus (a connection in subscribe mode can do nothing
 * else).
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

export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const { url, timeoutMs, logger } = options;
  const common: RedisOptions = {
    connectTimeout: Math.max(1000, timeoutMs * 4),
    retryStrategy: reconnectDelay,
    // Our own readiness: a replica must not wait on Redis to start serving.
    lazyConnect: false,
  };
  const command = new Redis(url, {
    ...common,
    connectionName: 'team-graphql:command',
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  // The subscriber issues SUBSCRIBE only (see redis-bus.ts, which resubscribes itself on every connect).
  const subscriber = new Redis(url, {
    ...common,
    connectionName: 'team-graphql:subscriber',
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
  });

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
  for (const connection of [command, subscriber]) {
    connection.on('ready', check);
    connection.on('close', check);
    connection.on('end', check);
    // Without a listener ioredis prints every connection error; the health line above says it once (and a refusal
    // gets its own line).
    connection.on('error', (error: unknown) => {
      noticeError(error);
      check();
    });
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
