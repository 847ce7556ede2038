/**
 * Who may read an organization: a caller whose token's active organization is that one, or who is in its
 * (cached) member list. Unknown organizations and non-members get the same FORBIDDEN.
 */
import type { Viewer } from '../auth/viewer.js';
import { OrganizationNotFoundError } from '../team/errors.js';
import type { GraphQLContext } from './context.js';
import { badUserInput, forbidden, toGraphQLError, unauthenticated } from './errors.js';

/** Clerk organization IDs; anything else would be spliced into a Clerk URL path, so it is refused up front. */
const ORGANIZATION_ID = /^org_[A-Za-z0-9]{1,64}$/;

export function requireViewer(context: GraphQLContext): Viewer {
  if (!context.viewer) {
    throw unauthenticated('Authentication required: send "Authorization: Bearer <Clerk session token>".');
  }
  return context.viewer;
}

export async function authorizeOrganization(context: GraphQLContext, organizationId: string): Promise<void> {
  const viewer = requireViewer(context);
  if (!ORGANIZATION_ID.test(organizationId)) {
    throw badUserInput('Expected a Clerk organization ID (org_…).', 'id');
  }
  if (viewer.activeOrganizationId === organizationId) return;
  try {
    const { value: roster } = await context.team.roster(organizationId);
    if (roster.byUserId.has(viewer.userId)) return;
  } catch (error) {
    if (error instanceof OrganizationNotFoundError) throw forbidden();
    throw toGraphQLError(error);
  }
  throw forbidden();
}
