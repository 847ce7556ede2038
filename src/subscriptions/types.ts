/**
 * What live updates are made of: why a team changed, and the two messages the event bus carries. Plain data, so
 * that a bus between processes (Redis) can carry them as JSON.
 */

/**
 * Why an organization's team page changed. A burst of webhooks (settled by the refresh-ahead debounce) becomes one
 * event carrying every reason of the burst; `INITIAL` is the first event of every stream (the current state).
 */
export const TEAM_CHANGE_REASONS = [
  'INITIAL',
  'MEMBER_ADDED',
  'MEMBER_REMOVED',
  'MEMBER_UPDATED',
  'INVITATION_CREATED',
  'INVITATION_ACCEPTED',
  'INVITATION_REVOKED',
  'ORGANIZATION_UPDATED',
] as const;

export type TeamChangeReason = (typeof TEAM_CHANGE_REASONS)[number];

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
