/**
 * What a change to an organization's team does, in the domain's terms: which cached data it patches or makes
 * stale, which access it revokes, which sessions it ends, and why (what live subscribers are told). The webhook
 * route computes effects from Clerk's events (src/clerk/events.ts) and applies them; the Redis layer carries the
 * same plain-JSON effects to the other replicas, which apply them with the same function. Team actions (mutations)
 * produce the same effects from Clerk's answers.
 */
import type { Delta } from './deltas.js';

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

export type Invalidation =
  /** The organization's roster and pending invitations; `reason` is what its live subscribers are told. */
  | { kind: 'organization'; organizationId: string; reason: TeamChangeReason }
  /** Every cached roster that holds the user (names, emails and images show there). */
  | { kind: 'user'; userId: string; reason: TeamChangeReason }
  /** The user's own membership list. */
  | { kind: 'userMemberships'; userId: string }
  /** Every cached membership list that holds the organization (its name, member count or existence changed). */
  | { kind: 'membershipListsOf'; organizationId: string }
  | { kind: 'all' };

/** Evidence older than now no longer grants `userId` `organizationId`; either may be `*` (any). */
export interface Revocation {
  userId: string;
  organizationId: string;
}

/** A Clerk session that ended (`session.ended`, `.revoked`, `.removed`): live streams opened with it end. */
export interface EndedSession {
  sessionId: string;
  userId: string | null;
}

/**
 * A change applied to cached data from the payload itself; `reason` is what live subscribers are told. Where the
 * cache cannot decide whether it is newer than what it holds, it invalidates the organization instead.
 */
export interface Patch {
  delta: Delta;
  reason: TeamChangeReason;
}

/**
 * All empty for an event that cannot change a team page (session.created, email.*, user.created, …). Plain JSON
 * data: effects may travel to other replicas and be applied there by the same function.
 */
export interface EventEffects {
  invalidations: Invalidation[];
  revocations: Revocation[];
  /** Applied before the route answers; absent when the event patches nothing. */
  patches?: Patch[];
  /** Only for session events; absent otherwise. */
  endedSessions?: EndedSession[];
  /**
   * A team action's own write: live subscribers are told at once, on every replica, instead of once the burst's
   * debounce settles (a webhook burst is coalesced; an action is one change its caller waits to see).
   */
  settleNow?: boolean;
}

/** What the route asks of the Redis layer, when there is one. */
export interface WebhookSharing {
  /**
   * `first`: process it. `duplicate`: its effects are on the bus already. `busy`: another replica is processing it
   * right now (answered 503: Clerk comes back later). Undefined: Redis cannot say (process it).
   */
  claim(messageId: string): Promise<'first' | 'duplicate' | 'busy' | undefined>;
  /**
   * Called in the same tick as the local apply (so no read of this replica can slip in between), with the
   * organizations the apply invalidated; resolves true once the other replicas have been told (and the delivery is
   * marked done), false when telling them failed.
   */
  applied(effects: EventEffects, touched: string[], messageId: string): Promise<boolean>;
}
