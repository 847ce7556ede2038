/**
 * Invalidations: an entry is marked as needing a re-read rather than deleted (so a Clerk outage still serves it,
 * stale), and the key's read under way is detached (see "Invalidation" in ./flights.ts).
 */
import type { Flights } from './flights.js';
import { ORGANIZATION_KINDS } from './kinds.js';
import type { Storage } from './storage.js';
import type { CacheKind, TeamCache } from './types.js';

export function createInvalidation({ storage, flights }: { storage: Storage; flights: Flights }) {
  function invalidate(kind: CacheKind, id: string) {
    storage.invalidate(kind, id);
    const flight = flights.find(kind, id);
    if (flight) flights.detach(flight);
  }

  function invalidateOrganization(organizationId: string) {
    storage.forgetNotFound(organizationId);
    for (const kind of ORGANIZATION_KINDS) invalidate(kind, organizationId);
  }

  const api: Pick<
    TeamCache,
    | 'invalidateOrganization'
    | 'invalidateUser'
    | 'invalidateUserMemberships'
    | 'invalidateMembershipListsOf'
    | 'invalidateAll'
  > = {
    invalidateOrganization,
    invalidateUser(userId) {
      const organizations = storage.organizationsOf(userId);
      for (const organizationId of organizations) invalidateOrganization(organizationId);
      // A roster read under way may hold the user as they were, and we cannot know until it returns: it notes the
      // user, and is kept from the cache then only if its result holds them.
      flights.markUserInvalidated(userId);
      return organizations;
    },
    invalidateUserMemberships: (userId) => invalidate('user_memberships', userId),
    invalidateMembershipListsOf(organizationId) {
      for (const userId of storage.membershipListsOf(organizationId)) invalidate('user_memberships', userId);
      // Any list under way may include this organization as it was: detach them all (those already sent).
      for (const flight of flights.all()) if (flight.kind === 'user_memberships') flights.detach(flight);
    },
    invalidateAll() {
      storage.invalidateAll();
      for (const flight of flights.all()) flights.detach(flight);
    },
  };
  return { invalidate, api };
}
