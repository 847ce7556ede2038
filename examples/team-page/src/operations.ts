/**
 * Every operation the page sends, typed by codegen (src/gql/). The server runs them as trusted documents: the
 * browser sends only their IDs. One file, so codegen writes them in a stable order.
 */
import { graphql } from './gql';

/** Who is signed in, and their active organization: the team to show. */
export const Viewer = graphql(`
  query Viewer {
    viewer { userId activeOrganizationId }
  }
`);

/** The page: the organization, its seats, what the viewer may do, one page of members and the invitations. */
export const TeamPage = graphql(`
  query TeamPage(
    $id: ID!
    $limit: Int!
    $offset: Int!
    $search: String
    $roles: [String!]
    $orderBy: MemberOrder
  ) {
    organization(id: $id) {
      id
      name
      seats { members pendingInvitations max available }
      viewerPermissions
      members(
        limit: $limit
        offset: $offset
        search: $search
        roles: $roles
        orderBy: $orderBy
        includePending: true
      ) {
        totalCount
        members { userId firstName lastName email role createdAt }
        pendingInvitations { id email role createdAt expiresAt }
      }
    }
  }
`);

/**
 * The same organization, live: an event after every change anywhere (another tab, another admin, Clerk's
 * dashboard). The page re-reads TeamPage on each one (from the server's cache), so seats and the current
 * filters stay right too.
 */
export const TeamChanged = graphql(`
  subscription TeamChanged($id: ID!) {
    teamChanged(organizationId: $id) { reasons version }
  }
`);

export const InviteMembers = graphql(`
  mutation InviteMembers($id: ID!, $invitations: [InvitationInput!]!) {
    inviteMembers(organizationId: $id, invitations: $invitations) {
      results { email errorCode errorMessage invitation { id } }
    }
  }
`);

export const UpdateMemberRole = graphql(`
  mutation UpdateMemberRole($id: ID!, $userId: ID!, $role: String!) {
    updateMemberRole(organizationId: $id, userId: $userId, role: $role) { organization { id } }
  }
`);

export const RemoveMember = graphql(`
  mutation RemoveMember($id: ID!, $userId: ID!) {
    removeMember(organizationId: $id, userId: $userId) { organization { id } }
  }
`);

export const LeaveOrganization = graphql(`
  mutation LeaveOrganization($id: ID!) {
    leaveOrganization(organizationId: $id) { organizationId }
  }
`);

export const RevokeInvitation = graphql(`
  mutation RevokeInvitation($id: ID!, $invitationId: ID!) {
    revokeInvitation(organizationId: $id, invitationId: $invitationId) { organization { id } }
  }
`);

export const ResendInvitation = graphql(`
  mutation ResendInvitation($id: ID!, $invitationId: ID!) {
    resendInvitation(organizationId: $id, invitationId: $invitationId) { invitation { id expiresAt } }
  }
`);
