/**
 * The bus between replicas: one Redis pub/sub channel carrying what a replica decided from a webhook (its
 * `EventEffects`, plain JSON, applied by every other replica with the same function as the route's), notices that
 * a second-level copy was written (for the single-flight waiters), and heartbeats.
 *
 * Pub/sub is at-most-once: a replica disconnected from Redis misses what was said meanwhile. So **on every
 * (re)connect** of its subscriber connection, once subscribed again, a replica treats its whole local cache as
 * invalidated (`onConnected`), and a replica that hears nothing, not even a heartbeat, for twice the heartbeat
 * interval suspects a dead connection that the socket has not noticed and reconnects it (and so invalidates too).
 */
import type { Logger } from '../logger.js';
import type { EventEffects } from '../webhooks/events.js';
import type { RedisConnection } from './connection.js';

export type BusMessage =
  /** A replica applied a webhook's effects; `touched`: the organizations it invalidated. */
  | { t: 'effects'; from: string; effects: EventEffects; touched: string[] }
  /** A single-flight lease on `key` ended (a copy was written, or the read failed): its waiters look again. */
  | { t: 'copy'; from: string; key: string }
  | { t: 'heartbeat'; from: string };

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');
const isObjectArray = (value: unknown) =>
  Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null);

/** The shape every replica relies on (Redis is shared infrastructure: anything may be published on it). */
function isBusMessage(value: unknown): value is BusMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Record<string, unknown>;
  if (typeof message.from !== 'string') return false;
  if (message.t === 'heartbeat') return true;
  if (message.t === 'copy') return typeof message.key === 'string';
  if (message.t !== 'effects' || !isStringArray(message.touched)) return false;
  const effects = message.effects as Record<string, unknown> | null;
  return (
    typeof effects === 'object' &&
    effects !== null &&
    isObjectArray(effects.invalidations) &&
    isObjectArray(effects.revocations) &&
    (effects.endedSessions === undefined || isObjectArray(effects.endedSessions))
  );
}

export interface SharedBusHandlers {
  /** Another replica's effects (a replica's own are not handed back). */
  effects(effects: EventEffects, touched: string[]): void;
  copy(key: string): void;
  /** Subscribed (again) after a connect: anything said while away is lost. */
  onConnected(): void;
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
  close(): void;
}

export function createSharedBus(options: SharedBusOptions): SharedBus {
  const { connection, channel, replicaId, heartbeatMs, logger, handlers } = options;
  const observe = options.observe ?? (() => {});
  const { subscriber, command } = connection;
  let lastHeard = Date.now();
  let subscribed = false;

  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => {
        subscribed = true;
        lastHeard = Date.now();
        handlers.onConnected();
      },
      // The connection dropped again before it subscribed: the next 'ready' tries again.
      () => {},
    );
  });
  subscriber.on('close', () => {
    subscribed = false;
  });
  subscriber.on('message', (_channel: string, text: string) => {
    lastHeard = Date.now();
    let message: BusMessage;
    try {
      message = JSON.parse(text) as BusMessage;
    } catch {
      return;
    }
    if (!isBusMessage(message)) {
      logger.warn('ignored a malformed message on the Redis bus', {});
      return;
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

  const heartbeat = setInterval(() => {
    if (command.status === 'ready') publish({ t: 'heartbeat', from: replicaId }).catch(() => {});
    // Silence on a connection that looks fine, while our own heartbeats can be sent: the socket may be dead without
    // knowing it. Reconnect it. (With the command connection down, our heartbeats are not sent: no verdict.)
    if (
      subscribed &&
      subscriber.status === 'ready' &&
      command.status === 'ready' &&
      Date.now() - lastHeard > 2 * heartbeatMs
    ) {
      logger.warn('Redis bus silent for longer than two heartbeats: reconnecting it', {
        silentMs: Date.now() - lastHeard,
      });
      subscribed = false;
      subscriber.disconnect(true);
    }
  }, heartbeatMs);
  heartbeat.unref();

  return {
    publish,
    encode,
    close: () => clearInterval(heartbeat),
  };
}
