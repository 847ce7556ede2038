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
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';

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
  close(): Promise<void>;
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
  // The subscriber issues SUBSCRIBE only (see bus.ts, which resubscribes itself on every connect).
  const subscriber = new Redis(url, {
    ...common,
    connectionName: 'team-graphql:subscriber',
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
  });

  let up = false;
  let closing = false;
  let warned = false;
  const check = () => {
    const now = !closing && command.status === 'ready' && subscriber.status === 'ready';
    if (now === up) return;
    up = now;
    options.onHealth?.(up);
    if (up) {
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
    // Without a listener ioredis prints every connection error; the health line above says it once.
    connection.on('error', () => check());
  }

  return {
    command,
    subscriber,
    isUp: () => up,
    async close() {
      closing = true;
      check();
      command.disconnect();
      subscriber.disconnect();
    },
  };
}
