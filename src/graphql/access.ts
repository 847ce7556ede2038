/**
 * Who may read an organization: decided from the newest evidence, and never by reading the organization from
 * Clerk on behalf of someone not yet shown to belong to it.
 *
 * Evidence, each dated (by when its Clerk read began, or by the token's `iat`):
 * 1. the organization's roster, if the cache holds a fresh copy (within the TTL, not invalidated; never a stale
 *    one): free, and it reads nothing;
 * 2. the session token's active organization (v1 `org_id` / v2 `o.id`): free;
 * 3. the caller's own membership list (`GET /v1/users/{id}/organization_memberships`, cached per user): the only
 *    Clerk read ever made for a caller not yet shown to belong, and one per user per TTL, whatever they ask for.
 *
 * Against them: revocation records (a membership, user or organization deleted), and a fresh roster that does not
 * hold the caller. Evidence dated at or before the newest of these grants nothing. So once the webhook of a
 * removal has been answered, the removed member's old token, the roster and list read before it (also when served
 * stale during an outage) all stop counting, and only a membership list read afterwards can let them in again.
 *
 * Unknown organizations and non-members get the same FORBIDDEN, after the same work: nothing about the asked-for
 * organization is read from Clerk either way.
 */
import type { Viewer } from '../auth/viewer.js';
import type { CacheRead } from '../team/cache.js';
import type { Roster, UserMembership } from '../team/types.js';
import type { GraphQLContext } from './context.js';
import { badUserInput, forbidden, toGraphQLError, unauthenticated } from './errors.js';

/** Clerk organization IDs; anything else would be spliced into a Clerk URL path, so it is refused up front. */
const ORGANIZATION_ID = /^org_[A-Za-z0-9]{1,64}$/;

/**
 * Clerk dates tokens by its clock and we date everything else by ours: a token counts as newer than our evidence
 * only by more than this (Clerk's own default clock skew for tokens).
 */
export const CLAIM_CLOCK_SKEW_MS = 5000;

/** What let the caller in: also where the organization's own details can be had without another read. */
export type Evidence =
  | { kind: 'roster'; roster: CacheRead<Roster> }
  | { kind: 'claim' }
  | { kind: 'membership'; membership: UserMembership };

export function requireViewer(context: GraphQLContext): Viewer {
  if (!context.viewer) {
    throw unauthenticated('Authentication required: send "Authorization: Bearer <Clerk session token>".');
  }
  return context.viewer;
}

export async function authorizeOrganization(
  context: GraphQLContext,
  organizationId: string,
): Promise<Evidence> {
  const viewer = requireViewer(context);
  if (!ORGANIZATION_ID.test(organizationId)) {
    throw badUserInput('Expected a Clerk organization ID (org_…).', 'id');
  }
  const revokedAt = context.revocations.revokedAt(viewer.userId, organizationId);
  /** Evidence dated at or before this grants nothing. */
  let voidUpTo = revokedAt;

  const roster = await context.team.peekRoster(organizationId);
  if (roster && roster.readStartedAt > revokedAt) {
    if (roster.value.byUserId.has(viewer.userId)) return { kind: 'roster', roster };
    // Clerk's newer word says the caller is not in it: older claims and lists are outweighed.
    voidUpTo = Math.max(voidUpTo, roster.readStartedAt);
  }

  if (
    viewer.activeOrganizationId === organizationId &&
    viewer.issuedAt !== null &&
    viewer.issuedAt - CLAIM_CLOCK_SKEW_MS > voidUpTo
  ) {
    return { kind: 'claim' };
  }

  let memberships: Awaited<ReturnType<GraphQLContext['team']['userMemberships']>>;
  try {
    memberships = await context.team.userMemberships(viewer.userId);
  } catch (error) {
    // A recorded removal and no way to see a re-admission: the removal stands.
    if (revokedAt > 0) throw forbidden();
    throw toGraphQLError(error);
  }
  const membership = memberships.value.byOrganizationId.get(organizationId);
  if (membership && memberships.readStartedAt > voidUpTo) return { kind: 'membership', membership };
  throw forbidden();
}

/** The caller's memberships as of the list, without organizations revoked since it was read. */
export async function currentMemberships(context: GraphQLContext): Promise<UserMembership[]> {
  const viewer = requireViewer(context);
  try {
    const { value, readStartedAt } = await context.team.userMemberships(viewer.userId);
    return value.memberships.filter(
      (membership) =>
        context.revocations.revokedAt(viewer.userId, membership.organization.id) < readStartedAt,
    );
  } catch (error) {
    throw toGraphQLError(error);
  }
}
