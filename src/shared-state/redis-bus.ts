/**
 * The bus between replicas: one Redis pub/sub channel carrying what a replica decided from a webhook (its
 * `EventEffects`, plain JSON, applied by every other replica with the same function as the route's), notices that
 * a second-level copy was written (for the single-flight waiters), and heartbeats.
 *
 * Pub/sub is at-most-once: a replica disconnected from Redis misses what was said meanwhile. So **on every
 * (re)connect** of its subscriber connection, once subscribed again, a replica treats its whole local cache as
 * invalidated (`onConnected`) and catches up with what it may have missed (`catchUp`: the revocation records), and
 * a replica that hears nothing, not even a heartbeat, for twice the heartbeat interval suspects a dead connection
 * that the socket has not noticed and reconnects it (and so invalidates too).
 *
 * **Whether this replica hears the bus** is owned here: it does while subscribed, caught up, and it has
 * heard something (every replica's heartbeats, its own included) within two heartbeat intervals. Otherwise it is
 * deaf (`deafSince`: never connected, connection down, subscribing or catching up again, or silent, as when Redis
 * is paused or its process stopped): removals announced since it last heard the bus may not have reached it, and
 * authorization must not trust what it cannot confirm (see src/team/revocations.ts, `unconfirmedUpTo`). Judged at
 * the moment it is asked (no timer lag): silence counts from the last message heard.
 */
import type { Logger } from '../observability/logger.js';
import type { EventEffects } from '../team/effects.js';
import { type BusMessage, parseBusMessage } from './bus-message.js';
import type { RedisConnection } from './connection.js';

export type { BusMessage } from './bus-message.js';

/** Why this replica does not hear the bus, or `hearing`. */
export type BusState = 'hearing' | 'disconnected' | 'catching_up' | 'silent';

export interface SharedBusHandlers {
  /** Another replica's effects (a replica's own are not handed back). */
  effects(effects: EventEffects, touched: string[]): void;
  copy(key: string): void;
  /** Subscribed (again) after a connect: anything said while away is lost. */
  onConnected(): void;
  /**
   * Reads what may have been missed (after `onConnected`); the bus counts as heard only once it resolves. Tried
   * again every heartbeat while it fails.
   */
  catchUp(): Promise<void>;
}

export interface SharedBusOptions {
  connection: RedisConnection;
  channel: string;
  /** This replica's ID, so it ignores its own effects. */
  replicaId: string;
  heartbeatMs: number;
  logger: Logger;
  handlers: SharedBusHandlers;
  /** Counts messages in and out, by type. */
  observe?(direction: 'in' | 'out', type: BusMessage['t']): void;
}

export interface SharedBus {
  /** Serialized once; sent on the command connection. Rejects when Redis is down or slow. */
  publish(message: BusMessage): Promise<unknown>;
  /** The message as text, to send inside a MULTI or a script. */
  encode(message: BusMessage): string;
  state(): BusState;
  /**
   * Undefined while this replica hears the bus; otherwise when it last heard it (its start, if never): what was
   * published since may not have reached it.
   */
  deafSince(): number | undefined;
  /** Whether the bus has been heard (subscribed and caught up) at least once since the start. */
  everHeard(): boolean;
  close(): void;
}

export function createSharedBus(options: SharedBusOptions): SharedBus {
  const { connection, channel, replicaId, heartbeatMs, logger, handlers } = options;
  const observe = options.observe ?? (() => {});
  const { subscriber, command } = connection;
  /** When a message (any, heartbeats included) was last heard; the start until then. */
  let lastHeard = Date.now();
  let subscribed = false;
  let subscribing = false;
  let caughtUp = false;
  let catchingUp = false;
  let everHeard = false;
  /** Bumped on every subscription, so a catch-up that outlived its connection does not count for the next. */
  let epoch = 0;

  function catchUp() {
    if (catchingUp || caughtUp || !subscribed) return;
    catchingUp = true;
    const at = epoch;
    handlers.catchUp().then(
      () => {
        catchingUp = false;
        if (at !== epoch || !subscribed) return;
        caughtUp = true;
        everHeard = true;
        connection.accepted();
      },
      (error: unknown) => {
        catchingUp = false;
        connection.noticeError(error);
        logger.warn('could not read the revocation records from Redis: retrying on the next heartbeat', {
          error,
        });
      },
    );
  }

  function subscribe() {
    if (subscribing || subscribed || subscriber.status !== 'ready') return;
    subscribing = true;
    subscriber.subscribe(channel).then(
      () => {
        subscribing = false;
        subscribed = true;
        caughtUp = false;
        epoch++;
        lastHeard = Date.now();
        handlers.onConnected();
        catchUp();
      },
      // The connection dropped again before it subscribed (the next 'ready' tries again), or an ACL refused the
      // channel (named in the log; tried again every heartbeat).
      (error: unknown) => {
        subscribing = false;
        connection.noticeError(error);
      },
    );
  }

  subscriber.on('ready', subscribe);
  subscriber.on('close', () => {
    subscribed = false;
    caughtUp = false;
  });
  subscriber.on('message', (_channel: string, text: string) => {
    lastHeard = Date.now();
    const { message, dropped } = parseBusMessage(text);
    if (!message) {
      logger.warn('ignored a malformed message on the Redis bus', {});
      return;
    }
    if (dropped > 0) {
      logger.warn('ignored a malformed message item on the Redis bus (the rest of the message is applied)', {
        dropped,
      });
    }
    observe('in', message.t);
    try {
      if (message.t === 'effects') {
        if (message.from !== replicaId) handlers.effects(message.effects, message.touched);
      } else if (message.t === 'copy') handlers.copy(message.key);
    } catch (error) {
      // A message this replica cannot apply must not take it down; the TTL and the next reconnect still hold.
      logger.error('could not apply a message from the Redis bus', { error });
    }
  });

  const encode = (message: BusMessage) => JSON.stringify(message);
  const publish = (message: BusMessage) => {
    observe('out', message.t);
    return command.publish(channel, encode(message));
  };

  const silent = () => Date.now() - lastHeard > 2 * heartbeatMs;
  const state = (): BusState =>
    !subscribed ? 'disconnected' : !caughtUp ? 'catching_up' : silent() ? 'silent' : 'hearing';

  const heartbeat = setInterval(() => {
    if (command.status === 'ready')
      publish({ t: 'heartbeat', from: replicaId }).catch((error: unknown) => connection.noticeError(error));
    subscribe();
    catchUp();
    // Silence on a connection that looks fine, while our own heartbeats can be sent: the socket may be dead without
    // knowing it. Reconnect it. (With the command connection down, our heartbeats are not sent: no verdict.)
    if (subscribed && subscriber.status === 'ready' && command.status === 'ready' && silent()) {
      logger.warn('Redis bus silent for longer than two heartbeats: reconnecting it', {
        silentMs: Date.now() - lastHeard,
      });
      subscribed = false;
      caughtUp = false;
      subscriber.disconnect(true);
    }
  }, heartbeatMs);
  heartbeat.unref();

  return {
    publish,
    encode,
    state,
    deafSince: () => (state() === 'hearing' ? undefined : lastHeard),
    everHeard: () => everHeard,
    close: () => clearInterval(heartbeat),
  };
}
