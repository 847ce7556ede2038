/**
 * Which cached data a Clerk webhook event makes stale. Pure: no I/O, no cache. We never patch the cache from
 * payloads (deliveries can be duplicated and reordered); we only decide what to forget.
 */

export type Invalidation =
  | { kind: 'organization'; organizationId: string }
  | { kind: 'user'; userId: string }
  | { kind: 'all' }
  /** An event that cannot change a team page (session.*, email.*, user.created, …). */
  | { kind: 'none' };

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

function stringAt(data: unknown, ...path: string[]): string {
  let value: unknown = data;
  for (const key of path)
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  if (typeof value !== 'string' || value === '') {
    throw new MalformedEventError(`Event data has no ${path.join('.')}`);
  }
  return value;
}

export function invalidationFor(event: ClerkEvent): Invalidation {
  const [resource] = event.type.split('.');
  switch (resource) {
    case 'organizationMembership':
      return { kind: 'organization', organizationId: stringAt(event.data, 'organization', 'id') };
    case 'organizationInvitation':
      return { kind: 'organization', organizationId: stringAt(event.data, 'organization_id') };
    case 'organization':
      // Updates and deletions change what we hold; a creation clears a remembered "no such organization".
      return { kind: 'organization', organizationId: stringAt(event.data, 'id') };
    case 'user':
      // Names, images and emails show on every team page the user is on; a new user is on none yet.
      return event.type === 'user.created'
        ? { kind: 'none' }
        : { kind: 'user', userId: stringAt(event.data, 'id') };
    case 'role':
    case 'permission':
      // Role and permission changes can touch any organization; we cannot tell which from the payload.
      return { kind: 'all' };
    default:
      return { kind: 'none' };
  }
}
