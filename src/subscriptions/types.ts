/**
 * What live updates are made of: why a team changed, and the two messages the event bus carries. Plain data, so
 * that a bus between processes (Redis) can carry them as JSON.
 */

export { TEAM_CHANGE_REASONS, type TeamChangeReason } from '../team/effects.js';

import type { TeamChangeReason } from '../team/effects.js';

/** An organization was re-read after a burst of webhooks: its subscribers get one event. */
export interface TeamChangeMessage {
  organizationId: string;
  /** The burst's reasons, each once, in the order they first arrived. */
  reasons: TeamChangeReason[];
}

/** Clerk ended a session (`session.ended`, `.revoked`, `.removed`): streams opened with it end. */
export interface SessionEndedMessage {
  sessionId: string;
  /** The session's user, when the payload names it (narrows the search; never required to match). */
  userId: string | null;
}
