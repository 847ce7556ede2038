/**
 * The event bus of live updates within one process: what this process's streams hear, and nothing else.
 *
 * - `team:changed` (per organization): an organization was re-read after a burst of webhooks. Published by the
 *   refresh-ahead of this process once the burst settled; heard by this process's streams on that organization,
 *   which then serve the event from its own cache.
 * - `session:ended`: Clerk ended a session; this process ends the streams opened with it.
 *
 * Built on Yoga's `createPubSub` over an in-process `EventTarget`, and it stays in-process with several replicas:
 * it is not where replicas meet. With Redis, a webhook's effects travel on the Redis layer's own bus
 * (src/shared-state/redis-bus.ts); every replica applies them with the webhook route's function (invalidations,
 * refresh-ahead, ended sessions) and so announces the change to its own streams, here. Carrying this bus over Redis
 * as well (`@graphql-yoga/redis-event-target`) would deliver every event twice: once from the replica's own
 * refresh-ahead, once from the replica that received the webhook. Each process numbers the events it delivers
 * itself (versions are per process, see `live-streams.ts`).
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
  /** Announces a settled change of one organization to this process's streams. */
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
  /** Where messages go. @default a new in-process EventTarget */
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
