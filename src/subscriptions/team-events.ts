/**
 * The event bus of live updates, and **the seam for Redis**: everything a stream needs to hear from other processes
 * travels here, and nothing else does.
 *
 * - `team:changed` (per organization): an organization was re-read after a burst of webhooks. Published by the
 *   process that received the webhooks, once the burst settled (refresh-ahead); heard by every process with streams
 *   on that organization, which then serve the event from its own cache.
 * - `session:ended`: Clerk ended a session; every process ends the streams opened with it.
 *
 * Built on Yoga's `createPubSub` over an `EventTarget`. Without an `eventTarget` it is in-process (one replica).
 * With Redis, pass `createRedisEventTarget({ publishClient, subscribeClient })` from
 * `@graphql-yoga/redis-event-target` (ioredis 5) and nothing else changes: the messages are plain JSON, and each
 * process numbers the events it delivers itself (versions are per process, see `live-streams.ts`). Pub/sub is
 * at-most-once: a message lost on the way means a stream shows the change with the next event, or after a
 * reconnect (whose first event is the current state).
 *
 * Revocations do not travel here: they are the cache's evidence and travel with the invalidations (the Redis
 * layer calls `revocations.record` on every replica, and `notifyingRevocations` in `live-streams.ts` ends the
 * streams they apply to, wherever the record came from).
 */
import { createPubSub, type PubSubEventTarget, type Repeater } from 'graphql-yoga';
import type { SessionEndedMessage, TeamChangeMessage } from './types.js';

export type TeamBusTopics = {
  'team:changed': [organizationId: string, message: TeamChangeMessage];
  'session:ended': [message: SessionEndedMessage];
};

export type TeamBusEventTarget = PubSubEventTarget<TeamBusTopics>;

export interface TeamEventBus {
  /** Announces a settled change of one organization to every process (this one included). */
  publishChange(message: TeamChangeMessage): void;
  /**
   * Changes of one organization from the moment iteration starts; `return()` unsubscribes. Iterate at once: a
   * message published before the first `next()` is not seen.
   */
  changes(organizationId: string): AsyncIterableIterator<TeamChangeMessage>;
  publishSessionEnded(message: SessionEndedMessage): void;
  /** Session ends from the moment iteration starts; `return()` unsubscribes. */
  sessionsEnded(): AsyncIterableIterator<SessionEndedMessage>;
}

export interface TeamEventBusOptions {
  /** Where messages go between processes. @default an in-process EventTarget (one replica) */
  eventTarget?: TeamBusEventTarget;
}

export function createTeamEventBus(options: TeamEventBusOptions = {}): TeamEventBus {
  const pubsub = createPubSub<TeamBusTopics>(options.eventTarget ? { eventTarget: options.eventTarget } : {});
  return {
    publishChange: (message) => pubsub.publish('team:changed', message.organizationId, message),
    changes: (organizationId) =>
      pubsub.subscribe('team:changed', organizationId) as Repeater<TeamChangeMessage> &
        AsyncIterableIterator<TeamChangeMessage>,
    publishSessionEnded: (message) => pubsub.publish('session:ended', message),
    sessionsEnded: () =>
      pubsub.subscribe('session:ended') as Repeater<SessionEndedMessage> &
        AsyncIterableIterator<SessionEndedMessage>,
  };
}
