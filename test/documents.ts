/**
 * The GraphQL operations the tests send, typed by codegen (test/gql/). They live in one file so that codegen, which
 * reads document files concurrently, writes them in one stable order.
 */
import { graphql } from './gql/index.js';

export const WhoAmI = graphql(`
  query WhoAmI {
    viewer { userId sessionId activeOrganizationId activeOrganizationRole }
  }
`);

export const TeamSize = graphql(`
  query TeamSize($id: ID!) {
    organization(id: $id) { members { totalCount } }
  }
`);

export const Page = graphql(`
  query Page($id: ID!, $limit: Int, $offset: Int) {
    organization(id: $id) { members(limit: $limit, offset: $offset) { fromCache totalCount members { userId } } }
  }
`);

export const Roster = graphql(`
  query Roster($id: ID!, $forceRefresh: Boolean) {
    organization(id: $id) { members(limit: 500, forceRefresh: $forceRefresh) { fromCache stale totalCount cachedAt } }
  }
`);

export const TeamPage = graphql(`
  query TeamPage($id: ID!, $limit: Int, $offset: Int, $includePending: Boolean, $forceRefresh: Boolean) {
    organization(id: $id) {
      id
      members(limit: $limit, offset: $offset, includePending: $includePending, forceRefresh: $forceRefresh) {
        organizationId
        fromCache
        cachedAt
        totalCount
        members { membershipId userId firstName lastName email imageUrl role createdAt }
        pendingInvitations { id email role status createdAt }
      }
    }
  }
`);

export const MyOrganizations = graphql(`
  query MyOrganizations {
    viewer { userId organizations { id name slug imageUrl role membersCount } }
  }
`);

export const OrganizationCard = graphql(`
  query OrganizationCard($id: ID!) {
    organization(id: $id) { id name slug imageUrl membersCount members(limit: 1) { totalCount } }
  }
`);

export const LiveTeam = graphql(`
  subscription LiveTeam($id: ID!, $limit: Int, $includePending: Boolean) {
    teamChanged(organizationId: $id) {
      organizationId
      reasons
      version
      members(limit: $limit, includePending: $includePending) {
        fromCache
        totalCount
        members { userId firstName role }
        pendingInvitations { id email role }
      }
    }
  }
`);

export const OrganizationBySlug = graphql(`
  query OrganizationBySlug($slug: String!) {
    organizationBySlug(slug: $slug) { id name slug members(limit: 5) { totalCount members { userId } } }
  }
`);

export const InviteMembers = graphql(`
  mutation InviteMembers($organizationId: ID!, $invitations: [InvitationInput!]!) {
    inviteMembers(organizationId: $organizationId, invitations: $invitations) {
      results { email errorCode invitation { id email role } }
    }
  }
`);
