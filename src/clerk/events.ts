/**
 * What a Clerk webhook event changes for us (and what one of our own writes changes: team actions hand Clerk's answer
 * to `effectsOf` as the webhook that follows will carry it, so both apply the same delta with the same versions): which cached data it patches (when its payload expresses every field
 * a roster or invitation list holds; see ../team/deltas.ts for how versions and tombstones keep duplicated and
 * reordered deliveries harmless), which it makes stale (everything else), and which access it revokes. Pure: no
 * I/O, no cache. The effect types are the domain's (../team/effects.ts): the Redis layer carries them too.
 */
import type { Delta } from '../team/deltas.js';
import type {
  EndedSession,
  EventEffects,
  Invalidation,
  Patch,
  Revocation,
  TeamChangeReason,
} from '../team/effects.js';
import { internPermissions } from '../team/permissions.js';
import { ANY } from '../team/revocations.js';
import type { Invitation, Member } from '../team/types.js';

export type { EndedSession, EventEffects, Invalidation, Patch, Revocation };

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
      const reason = MEMBERSHIP_REASONS[action] ?? 'MEMBER_UPDATED';
      const delta = membershipDelta(action, organizationId, event.data);
      return {
        invalidations: [
          ...(delta ? [] : [{ kind: 'organization', organizationId, reason } as const]),
          // The member's own list gains, changes or loses this organization; everyone else's shows its count.
          ...(userId ? [{ kind: 'userMemberships', userId } as const] : []),
          { kind: 'membershipListsOf', organizationId },
        ],
        revocations: action === 'deleted' ? [{ userId: userId ?? ANY, organizationId }] : [],
        ...(delta ? { patches: [{ delta, reason }] } : {}),
      };
    }
    case 'organizationInvitation': {
      // An accepted invitation is followed by its organizationMembership.created.
      const organizationId = stringAt(event.data, 'organization_id');
      const reason = INVITATION_REASONS[action] ?? 'INVITATION_CREATED';
      const delta = invitationDelta(action, organizationId, event.data);
      if (delta) return { invalidations: [], revocations: [], patches: [{ delta, reason }] };
      return { invalidations: [{ kind: 'organization', organizationId, reason }], revocations: [] };
    }
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
        const delta = action === 'updated' ? profileDelta(userId, event.data) : undefined;
        if (delta)
          return { invalidations: [], revocations: [], patches: [{ delta, reason: 'MEMBER_UPDATED' }] };
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

// ---- payload → delta: only when the payload holds every field the roster or invitation list maps (as
// ../clerk/source.ts does), with the type Clerk documents; anything less falls back to invalidation. ----

type Fields = Record<string, unknown>;
const objectAt = (data: unknown, key: string): Fields | undefined => {
  const value = typeof data === 'object' && data !== null ? (data as Fields)[key] : undefined;
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
};
const isTimestamp = (value: unknown): value is number =>
  typeof value === 'number' &&
  Number.isSafeInteger(value) &&
  value >= 0 &&
  !Number.isNaN(new Date(value).getTime());
const isId = (value: unknown): value is string => typeof value === 'string' && value !== '';
/** A field Clerk sends as a string or null: present, one of both (`''` means none, as the SDK mapping reads it). */
const nullableString = (fields: Fields, key: string): string | null | undefined => {
  if (!(key in fields)) return undefined;
  const value = fields[key];
  if (value === null) return null;
  return typeof value === 'string' ? value || null : undefined;
};

/** `organizationMembership.*` → a roster delta (the same fields as clerk-source's `toMember`). */
function membershipDelta(action: string, organizationId: string, data: unknown): Delta | undefined {
  const membership = data as Fields;
  const user = objectAt(data, 'public_user_data');
  const { id, role, permissions, created_at: createdAt, updated_at: updatedAt } = membership;
  if (!isId(id) || !user || !isId(user.user_id)) return undefined;
  if (action === 'deleted') {
    return { kind: 'memberRemoval', organizationId, membershipId: id, userId: user.user_id };
  }
  if (action !== 'created' && action !== 'updated') return undefined;
  const firstName = nullableString(user, 'first_name');
  const lastName = nullableString(user, 'last_name');
  const email = nullableString(user, 'identifier');
  const imageUrl = nullableString(user, 'image_url');
  if (
    !isId(role) ||
    !Array.isArray(permissions) ||
    !isTimestamp(createdAt) ||
    !isTimestamp(updatedAt) ||
    firstName === undefined ||
    lastName === undefined ||
    email === undefined ||
    imageUrl === undefined
  )
    return undefined;
  const member: Member & { version: number } = {
    membershipId: id,
    userId: user.user_id,
    firstName,
    lastName,
    email,
    imageUrl,
    role,
    permissions: internPermissions(permissions),
    createdAt: new Date(createdAt).toISOString(),
    version: updatedAt,
  };
  return { kind: 'memberUpsert', organizationId, member };
}

/** `organizationInvitation.*` → an invitation delta (the same fields as clerk-source's `toInvitation`). */
function invitationDelta(action: string, organizationId: string, data: unknown): Delta | undefined {
  const fields = data as Fields;
  const {
    id,
    email_address: email,
    role,
    status,
    created_at: createdAt,
    updated_at: updatedAt,
    expires_at: expiresAt,
  } = fields;
  if (!isId(id)) return undefined;
  if (action === 'accepted' || action === 'revoked') {
    return { kind: 'invitationRemoval', organizationId, invitationId: id };
  }
  if (action !== 'created') return undefined;
  if (
    !isId(email) ||
    !isId(role) ||
    status !== 'pending' ||
    !isTimestamp(createdAt) ||
    !isTimestamp(updatedAt) ||
    !(expiresAt === null || expiresAt === undefined || isTimestamp(expiresAt))
  )
    return undefined;
  const invitation: Invitation & { version: number } = {
    id,
    email,
    role,
    status,
    createdAt: new Date(createdAt).toISOString(),
    expiresAt: isTimestamp(expiresAt) ? new Date(expiresAt).toISOString() : null,
    version: updatedAt,
  };
  return { kind: 'invitationUpsert', organizationId, invitation };
}

/**
 * `user.updated` → the profile every roster shows. The roster's email is Clerk's `identifier`: the primary email
 * address; a user without one shows a phone number or username there, which we do not derive (invalidate).
 */
function profileDelta(userId: string, data: unknown): Delta | undefined {
  const user = data as Fields;
  const firstName = nullableString(user, 'first_name');
  const lastName = nullableString(user, 'last_name');
  const imageUrl = nullableString(user, 'image_url');
  const primaryId = user.primary_email_address_id;
  const addresses = user.email_addresses;
  if (
    firstName === undefined ||
    lastName === undefined ||
    imageUrl === undefined ||
    !isTimestamp(user.updated_at) ||
    !isId(primaryId) ||
    !Array.isArray(addresses)
  )
    return undefined;
  const primary = addresses.find(
    (address): address is Fields =>
      typeof address === 'object' && address !== null && (address as Fields).id === primaryId,
  );
  if (!primary || !isId(primary.email_address)) return undefined;
  return {
    kind: 'profile',
    userId,
    version: user.updated_at,
    profile: { firstName, lastName, email: primary.email_address, imageUrl },
  };
}
