/**
 * Calls are grouped by route: a 429 on one route pauses that route only, and each route has its own circuit
 * breaker. `memberships` reads an organization's roster, `invitations` its pending invitations, `user_memberships`
 * one user's own membership list, `jwks` the keys that sign session tokens. Add a route here (one place).
 */
export const UPSTREAM_ROUTES = [
  'memberships',
  'invitations',
  'user_memberships',
  'jwks',
  'organization_roles',
  'membership_writes',
  'invitation_writes',
] as const;
export type UpstreamRoute = (typeof UPSTREAM_ROUTES)[number];

/** What each route calls, for traces (`url.template`): Clerk's Backend API paths, IDs as placeholders. */
export const ROUTE_TEMPLATES: Record<UpstreamRoute, string> = {
  memberships: '/v1/organizations/{organization_id}/memberships',
  invitations: '/v1/organizations/{organization_id}/invitations',
  user_memberships: '/v1/users/{user_id}/organization_memberships',
  jwks: '/v1/jwks',
  organization_roles: '/v1/organization_roles',
  membership_writes: '/v1/organizations/{organization_id}/memberships/{user_id}',
  invitation_writes: '/v1/organizations/{organization_id}/invitations',
};
