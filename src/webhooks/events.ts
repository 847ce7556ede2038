/**
 * What a Clerk webhook event changes for us: which cached data it makes stale, and which access it revokes. Pure:
 * no I/O, no cache. We never patch the cache from payloads (deliveries can be duplicated and reordered); we only
 * decide what to forget, and from when on older evidence of membership stops counting.
 */
import type { TeamChangeReason } from '../subscriptions/types.js';
import { ANY } from '../team/revocations.js';

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

/** All empty for an event that cannot change a team page (session.created, email.*, user.created, …). */
export interface EventEffects {
  invalidations: Invalidation[];
  revocations: Revocation[];
  /** Only for session events; absent otherwise. */
  endedSessions?: EndedSession[];
}

export interface ClerkEvent {
  type: string;
  data: unknown;
}

export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEventError';
  }
}

/** Envelope check: Svix has verified the bytes, not that they are a Clerk event. */
export function asClerkEvent(payload: unknown): ClerkEvent {
  if (typeof payload !== 'object' || payload === null)
    throw new MalformedEventError('Event is not an object');
  const { type, data } = payload as Record<string, unknown>;
  if (typeof type !== 'string' || type === '') throw new MalformedEventError('Event has no type');
  if (typeof data !== 'object' || data === null) throw new MalformedEventError('Event has no data object');
  return { type, data };
}

function optionalStringAt(data: unknown, ...path: string[]): string | undefined {
  let value: unknown = data;
  for (const key of path)
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function stringAt(data: unknown, ...path: string[]): string {
  const value = optionalStringAt(data, ...path);
  if (value === undefined) throw new MalformedEventError(`Event data has no ${path.join('.')}`);
  return value;
}

const NONE: EventEffects = { invalidations: [], revocations: [] };

const MEMBERSHIP_REASONS: Record<string, TeamChangeReason> = {
  created: 'MEMBER_ADDED',
  updated: 'MEMBER_UPDATED',
  deleted: 'MEMBER_REMOVED',
};
const INVITATION_REASONS: Record<string, TeamChangeReason> = {
  created: 'INVITATION_CREATED',
  accepted: 'INVITATION_ACCEPTED',
  revoked: 'INVITATION_REVOKED',
};
/** Clerk's session events that end a session; the others (created, pending, …) change nothing for us. */
const SESSION_ENDS = new Set(['ended', 'revoked', 'removed']);

export function effectsOf(event: ClerkEvent): EventEffects {
  const [resource, action = ''] = event.type.split('.');
  switch (resource) {
    case 'organizationMembership': {
      const organizationId = stringAt(event.data, 'organization', 'id');
      // Clerk always sends the member's public data; without it, treat the change as anyone's in the organization.
      const userId = optionalStringAt(event.data, 'public_user_data', 'user_id');
      return {
        invalidations: [
          { kind: 'organization', organizationId, reason: MEMBERSHIP_REASONS[action] ?? 'MEMBER_UPDATED' },
          // The member's own list gains, changes or loses this organization; everyone else's shows its count.
          ...(userId ? [{ kind: 'userMemberships', userId } as const] : []),
          { kind: 'membershipListsOf', organizationId },
        ],
        revocations: action === 'deleted' ? [{ userId: userId ?? ANY, organizationId }] : [],
      };
    }
    case 'organizationInvitation':
      // An accepted invitation is followed by its organizationMembership.created.
      return {
        invalidations: [
          {
            kind: 'organization',
            organizationId: stringAt(event.data, 'organization_id'),
            reason: INVITATION_REASONS[action] ?? 'INVITATION_CREATED',
          },
        ],
        revocations: [],
      };
    case 'organization': {
      // Updates and deletions change what we hold; a creation clears a remembered "no such organization".
      const organizationId = stringAt(event.data, 'id');
      return {
        invalidations: [
          { kind: 'organization', organizationId, reason: 'ORGANIZATION_UPDATED' },
          { kind: 'membershipListsOf', organizationId },
        ],
        revocations: action === 'deleted' ? [{ userId: ANY, organizationId }] : [],
      };
    }
    case 'user': {
      // Names, images and emails show on every team page the user is on; a new user is on none yet.
      if (action === 'created') return NONE;
      const userId = stringAt(event.data, 'id');
      if (action !== 'deleted') {
        return { invalidations: [{ kind: 'user', userId, reason: 'MEMBER_UPDATED' }], revocations: [] };
      }
      return {
        invalidations: [
          { kind: 'user', userId, reason: 'MEMBER_REMOVED' },
          { kind: 'userMemberships', userId },
        ],
        revocations: [{ userId, organizationId: ANY }],
      };
    }
    case 'session':
      // Clerk's Session object: `id` is the session (a token's `sid`), `user_id` its user.
      if (!SESSION_ENDS.has(action)) return NONE;
      return {
        invalidations: [],
        revocations: [],
        endedSessions: [
          { sessionId: stringAt(event.data, 'id'), userId: optionalStringAt(event.data, 'user_id') ?? null },
        ],
      };
    case 'role':
    case 'permission':
      // Role and permission changes can touch any organization; we cannot tell which from the payload.
      return { invalidations: [{ kind: 'all' }], revocations: [] };
    default:
      return NONE;
  }
}
