/* eslint-disable */
import * as types from './graphql';
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
    "\n  query Viewer {\n    viewer { userId activeOrganizationId }\n  }\n": typeof types.ViewerDocument,
    "\n  query TeamPage(\n    $id: ID!\n    $limit: Int!\n    $offset: Int!\n    $search: String\n    $roles: [String!]\n    $orderBy: MemberOrder\n  ) {\n    organization(id: $id) {\n      id\n      name\n      seats { members pendingInvitations max available }\n      viewerPermissions\n      members(\n        limit: $limit\n        offset: $offset\n        search: $search\n        roles: $roles\n        orderBy: $orderBy\n        includePending: true\n      ) {\n        totalCount\n        members { userId firstName lastName email role createdAt }\n        pendingInvitations { id email role createdAt expiresAt }\n      }\n    }\n  }\n": typeof types.TeamPageDocument,
    "\n  subscription TeamChanged($id: ID!) {\n    teamChanged(organizationId: $id) { reasons version }\n  }\n": typeof types.TeamChangedDocument,
    "\n  mutation InviteMembers($id: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $id, invitations: $invitations) {\n      results { email errorCode errorMessage invitation { id } }\n    }\n  }\n": typeof types.InviteMembersDocument,
    "\n  mutation UpdateMemberRole($id: ID!, $userId: ID!, $role: String!) {\n    updateMemberRole(organizationId: $id, userId: $userId, role: $role) { organization { id } }\n  }\n": typeof types.UpdateMemberRoleDocument,
    "\n  mutation RemoveMember($id: ID!, $userId: ID!) {\n    removeMember(organizationId: $id, userId: $userId) { organization { id } }\n  }\n": typeof types.RemoveMemberDocument,
    "\n  mutation LeaveOrganization($id: ID!) {\n    leaveOrganization(organizationId: $id) { organizationId }\n  }\n": typeof types.LeaveOrganizationDocument,
    "\n  mutation RevokeInvitation($id: ID!, $invitationId: ID!) {\n    revokeInvitation(organizationId: $id, invitationId: $invitationId) { organization { id } }\n  }\n": typeof types.RevokeInvitationDocument,
    "\n  mutation ResendInvitation($id: ID!, $invitationId: ID!) {\n    resendInvitation(organizationId: $id, invitationId: $invitationId) { invitation { id expiresAt } }\n  }\n": typeof types.ResendInvitationDocument,
};
const documents: Documents = {
    "\n  query Viewer {\n    viewer { userId activeOrganizationId }\n  }\n": types.ViewerDocument,
    "\n  query TeamPage(\n    $id: ID!\n    $limit: Int!\n    $offset: Int!\n    $search: String\n    $roles: [String!]\n    $orderBy: MemberOrder\n  ) {\n    organization(id: $id) {\n      id\n      name\n      seats { members pendingInvitations max available }\n      viewerPermissions\n      members(\n        limit: $limit\n        offset: $offset\n        search: $search\n        roles: $roles\n        orderBy: $orderBy\n        includePending: true\n      ) {\n        totalCount\n        members { userId firstName lastName email role createdAt }\n        pendingInvitations { id email role createdAt expiresAt }\n      }\n    }\n  }\n": types.TeamPageDocument,
    "\n  subscription TeamChanged($id: ID!) {\n    teamChanged(organizationId: $id) { reasons version }\n  }\n": types.TeamChangedDocument,
    "\n  mutation InviteMembers($id: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $id, invitations: $invitations) {\n      results { email errorCode errorMessage invitation { id } }\n    }\n  }\n": types.InviteMembersDocument,
    "\n  mutation UpdateMemberRole($id: ID!, $userId: ID!, $role: String!) {\n    updateMemberRole(organizationId: $id, userId: $userId, role: $role) { organization { id } }\n  }\n": types.UpdateMemberRoleDocument,
    "\n  mutation RemoveMember($id: ID!, $userId: ID!) {\n    removeMember(organizationId: $id, userId: $userId) { organization { id } }\n  }\n": types.RemoveMemberDocument,
    "\n  mutation LeaveOrganization($id: ID!) {\n    leaveOrganization(organizationId: $id) { organizationId }\n  }\n": types.LeaveOrganizationDocument,
    "\n  mutation RevokeInvitation($id: ID!, $invitationId: ID!) {\n    revokeInvitation(organizationId: $id, invitationId: $invitationId) { organization { id } }\n  }\n": types.RevokeInvitationDocument,
    "\n  mutation ResendInvitation($id: ID!, $invitationId: ID!) {\n    resendInvitation(organizationId: $id, invitationId: $invitationId) { invitation { id expiresAt } }\n  }\n": types.ResendInvitationDocument,
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
export function graphql(source: "\n  query Viewer {\n    viewer { userId activeOrganizationId }\n  }\n"): (typeof documents)["\n  query Viewer {\n    viewer { userId activeOrganizationId }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query TeamPage(\n    $id: ID!\n    $limit: Int!\n    $offset: Int!\n    $search: String\n    $roles: [String!]\n    $orderBy: MemberOrder\n  ) {\n    organization(id: $id) {\n      id\n      name\n      seats { members pendingInvitations max available }\n      viewerPermissions\n      members(\n        limit: $limit\n        offset: $offset\n        search: $search\n        roles: $roles\n        orderBy: $orderBy\n        includePending: true\n      ) {\n        totalCount\n        members { userId firstName lastName email role createdAt }\n        pendingInvitations { id email role createdAt expiresAt }\n      }\n    }\n  }\n"): (typeof documents)["\n  query TeamPage(\n    $id: ID!\n    $limit: Int!\n    $offset: Int!\n    $search: String\n    $roles: [String!]\n    $orderBy: MemberOrder\n  ) {\n    organization(id: $id) {\n      id\n      name\n      seats { members pendingInvitations max available }\n      viewerPermissions\n      members(\n        limit: $limit\n        offset: $offset\n        search: $search\n        roles: $roles\n        orderBy: $orderBy\n        includePending: true\n      ) {\n        totalCount\n        members { userId firstName lastName email role createdAt }\n        pendingInvitations { id email role createdAt expiresAt }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TeamChanged($id: ID!) {\n    teamChanged(organizationId: $id) { reasons version }\n  }\n"): (typeof documents)["\n  subscription TeamChanged($id: ID!) {\n    teamChanged(organizationId: $id) { reasons version }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation InviteMembers($id: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $id, invitations: $invitations) {\n      results { email errorCode errorMessage invitation { id } }\n    }\n  }\n"): (typeof documents)["\n  mutation InviteMembers($id: ID!, $invitations: [InvitationInput!]!) {\n    inviteMembers(organizationId: $id, invitations: $invitations) {\n      results { email errorCode errorMessage invitation { id } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateMemberRole($id: ID!, $userId: ID!, $role: String!) {\n    updateMemberRole(organizationId: $id, userId: $userId, role: $role) { organization { id } }\n  }\n"): (typeof documents)["\n  mutation UpdateMemberRole($id: ID!, $userId: ID!, $role: String!) {\n    updateMemberRole(organizationId: $id, userId: $userId, role: $role) { organization { id } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveMember($id: ID!, $userId: ID!) {\n    removeMember(organizationId: $id, userId: $userId) { organization { id } }\n  }\n"): (typeof documents)["\n  mutation RemoveMember($id: ID!, $userId: ID!) {\n    removeMember(organizationId: $id, userId: $userId) { organization { id } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LeaveOrganization($id: ID!) {\n    leaveOrganization(organizationId: $id) { organizationId }\n  }\n"): (typeof documents)["\n  mutation LeaveOrganization($id: ID!) {\n    leaveOrganization(organizationId: $id) { organizationId }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeInvitation($id: ID!, $invitationId: ID!) {\n    revokeInvitation(organizationId: $id, invitationId: $invitationId) { organization { id } }\n  }\n"): (typeof documents)["\n  mutation RevokeInvitation($id: ID!, $invitationId: ID!) {\n    revokeInvitation(organizationId: $id, invitationId: $invitationId) { organization { id } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResendInvitation($id: ID!, $invitationId: ID!) {\n    resendInvitation(organizationId: $id, invitationId: $invitationId) { invitation { id expiresAt } }\n  }\n"): (typeof documents)["\n  mutation ResendInvitation($id: ID!, $invitationId: ID!) {\n    resendInvitation(organizationId: $id, invitationId: $invitationId) { invitation { id expiresAt } }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;