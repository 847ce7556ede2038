/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query WhoAmI {\n    viewer { userId sessionId activeOrganizationId activeOrganizationRole }\n  }\n": typeof types.WhoAmIDocument,
    "\n  query TeamSize($id: ID!) {\n    organization(id: $id) { members { totalCount } }\n  }\n": typeof types.TeamSizeDocument,
    "\n  query Page($id: ID!, $limit: Int, $offset: Int) {\n    organization(id: $id) { members(limit: $limit, offset: $offset) { fromCache totalCount members { userId } } }\n  }\n": typeof types.PageDocument,
    "\n  query Roster($id: ID!, $forceRefresh: Boolean) {\n    organization(id: $id) { members(limit: 500, forceRefresh: $forceRefresh) { fromCache stale totalCount cachedAt } }\n  }\n": typeof types.RosterDocument,
    "\n  query TeamPage($id: ID!, $limit: Int, $offset: Int, $includePending: Boolean, $forceRefresh: Boolean) {\n    organization(id: $id) {\n      id\n      members(limit: $limit, offset: $offset, includePending: $includePending, forceRefresh: $forceRefresh) {\n        organizationId\n        fromCache\n        cachedAt\n        totalCount\n        members { membershipId userId firstName lastName email imageUrl role createdAt }\n        pendingInvitations { id email role status createdAt }\n      }\n    }\n  }\n": typeof types.TeamPageDocument,
    "\n  query MyOrganizations {\n    viewer { userId organizations { id name slug imageUrl role membersCount } }\n  }\n": typeof types.MyOrganizationsDocument,
    "\n  query OrganizationCard($id: ID!) {\n    organization(id: $id) { id name slug imageUrl membersCount members(limit: 1) { totalCount } }\n  }\n": typeof types.OrganizationCardDocument,
    "\n  subscription LiveTeam($id: ID!, $limit: Int, $includePending: Boolean) {\n    teamChanged(organizationId: $id) {\n      organizationId\n      reasons\n      version\n      members(limit: $limit, includePending: $includePending) {\n        fromCache\n        totalCount\n        members { userId firstName role }\n        pendingInvitations { id email role }\n      }\n    }\n  }\n": typeof types.LiveTeamDocument,
    "\n  query OrganizationBySlug($slug: String!) {\n    organizationBySlug(slug: $slug) { id name slug members(limit: 5) { totalCount members { userId } } }\n  }\n": typeof types.OrganizationBySlugDocument,
    "\n  mutation InviteMembers($organizationId: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $organizationId, invitations: $invitations) {\n      results { email errorCode invitation { id email role } }\n    }\n  }\n": typeof types.InviteMembersDocument,
};
const documents: Documents = {
    "\n  query WhoAmI {\n    viewer { userId sessionId activeOrganizationId activeOrganizationRole }\n  }\n": types.WhoAmIDocument,
    "\n  query TeamSize($id: ID!) {\n    organization(id: $id) { members { totalCount } }\n  }\n": types.TeamSizeDocument,
    "\n  query Page($id: ID!, $limit: Int, $offset: Int) {\n    organization(id: $id) { members(limit: $limit, offset: $offset) { fromCache totalCount members { userId } } }\n  }\n": types.PageDocument,
    "\n  query Roster($id: ID!, $forceRefresh: Boolean) {\n    organization(id: $id) { members(limit: 500, forceRefresh: $forceRefresh) { fromCache stale totalCount cachedAt } }\n  }\n": types.RosterDocument,
    "\n  query TeamPage($id: ID!, $limit: Int, $offset: Int, $includePending: Boolean, $forceRefresh: Boolean) {\n    organization(id: $id) {\n      id\n      members(limit: $limit, offset: $offset, includePending: $includePending, forceRefresh: $forceRefresh) {\n        organizationId\n        fromCache\n        cachedAt\n        totalCount\n        members { membershipId userId firstName lastName email imageUrl role createdAt }\n        pendingInvitations { id email role status createdAt }\n      }\n    }\n  }\n": types.TeamPageDocument,
    "\n  query MyOrganizations {\n    viewer { userId organizations { id name slug imageUrl role membersCount } }\n  }\n": types.MyOrganizationsDocument,
    "\n  query OrganizationCard($id: ID!) {\n    organization(id: $id) { id name slug imageUrl membersCount members(limit: 1) { totalCount } }\n  }\n": types.OrganizationCardDocument,
    "\n  subscription LiveTeam($id: ID!, $limit: Int, $includePending: Boolean) {\n    teamChanged(organizationId: $id) {\n      organizationId\n      reasons\n      version\n      members(limit: $limit, includePending: $includePending) {\n        fromCache\n        totalCount\n        members { userId firstName role }\n        pendingInvitations { id email role }\n      }\n    }\n  }\n": types.LiveTeamDocument,
    "\n  query OrganizationBySlug($slug: String!) {\n    organizationBySlug(slug: $slug) { id name slug members(limit: 5) { totalCount members { userId } } }\n  }\n": types.OrganizationBySlugDocument,
    "\n  mutation InviteMembers($organizationId: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $organizationId, invitations: $invitations) {\n      results { email errorCode invitation { id email role } }\n    }\n  }\n": types.InviteMembersDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WhoAmI {\n    viewer { userId sessionId activeOrganizationId activeOrganizationRole }\n  }\n"): (typeof documents)["\n  query WhoAmI {\n    viewer { userId sessionId activeOrganizationId activeOrganizationRole }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query TeamSize($id: ID!) {\n    organization(id: $id) { members { totalCount } }\n  }\n"): (typeof documents)["\n  query TeamSize($id: ID!) {\n    organization(id: $id) { members { totalCount } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Page($id: ID!, $limit: Int, $offset: Int) {\n    organization(id: $id) { members(limit: $limit, offset: $offset) { fromCache totalCount members { userId } } }\n  }\n"): (typeof documents)["\n  query Page($id: ID!, $limit: Int, $offset: Int) {\n    organization(id: $id) { members(limit: $limit, offset: $offset) { fromCache totalCount members { userId } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Roster($id: ID!, $forceRefresh: Boolean) {\n    organization(id: $id) { members(limit: 500, forceRefresh: $forceRefresh) { fromCache stale totalCount cachedAt } }\n  }\n"): (typeof documents)["\n  query Roster($id: ID!, $forceRefresh: Boolean) {\n    organization(id: $id) { members(limit: 500, forceRefresh: $forceRefresh) { fromCache stale totalCount cachedAt } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query TeamPage($id: ID!, $limit: Int, $offset: Int, $includePending: Boolean, $forceRefresh: Boolean) {\n    organization(id: $id) {\n      id\n      members(limit: $limit, offset: $offset, includePending: $includePending, forceRefresh: $forceRefresh) {\n        organizationId\n        fromCache\n        cachedAt\n        totalCount\n        members { membershipId userId firstName lastName email imageUrl role createdAt }\n        pendingInvitations { id email role status createdAt }\n      }\n    }\n  }\n"): (typeof documents)["\n  query TeamPage($id: ID!, $limit: Int, $offset: Int, $includePending: Boolean, $forceRefresh: Boolean) {\n    organization(id: $id) {\n      id\n      members(limit: $limit, offset: $offset, includePending: $includePending, forceRefresh: $forceRefresh) {\n        organizationId\n        fromCache\n        cachedAt\n        totalCount\n        members { membershipId userId firstName lastName email imageUrl role createdAt }\n        pendingInvitations { id email role status createdAt }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MyOrganizations {\n    viewer { userId organizations { id name slug imageUrl role membersCount } }\n  }\n"): (typeof documents)["\n  query MyOrganizations {\n    viewer { userId organizations { id name slug imageUrl role membersCount } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OrganizationCard($id: ID!) {\n    organization(id: $id) { id name slug imageUrl membersCount members(limit: 1) { totalCount } }\n  }\n"): (typeof documents)["\n  query OrganizationCard($id: ID!) {\n    organization(id: $id) { id name slug imageUrl membersCount members(limit: 1) { totalCount } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription LiveTeam($id: ID!, $limit: Int, $includePending: Boolean) {\n    teamChanged(organizationId: $id) {\n      organizationId\n      reasons\n      version\n      members(limit: $limit, includePending: $includePending) {\n        fromCache\n        totalCount\n        members { userId firstName role }\n        pendingInvitations { id email role }\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription LiveTeam($id: ID!, $limit: Int, $includePending: Boolean) {\n    teamChanged(organizationId: $id) {\n      organizationId\n      reasons\n      version\n      members(limit: $limit, includePending: $includePending) {\n        fromCache\n        totalCount\n        members { userId firstName role }\n        pendingInvitations { id email role }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OrganizationBySlug($slug: String!) {\n    organizationBySlug(slug: $slug) { id name slug members(limit: 5) { totalCount members { userId } } }\n  }\n"): (typeof documents)["\n  query OrganizationBySlug($slug: String!) {\n    organizationBySlug(slug: $slug) { id name slug members(limit: 5) { totalCount members { userId } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation InviteMembers($organizationId: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $organizationId, invitations: $invitations) {\n      results { email errorCode invitation { id email role } }\n    }\n  }\n"): (typeof documents)["\n  mutation InviteMembers($organizationId: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $organizationId, invitations: $invitations) {\n      results { email errorCode invitation { id email role } }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;