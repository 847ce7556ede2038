/** The object types of the contract (see ../shared/ARCHITECTURE.md, "GraphQL contract"). */
import type { Viewer } from '../auth/viewer.js';
import type { CacheRead } from '../team/cache.js';
import type { Invitation, Member, PendingInvitations, Roster } from '../team/types.js';
import { builder } from './builder.js';

export interface OrganizationShape {
  id: string;
}

export interface TeamMembersShape {
  organizationId: string;
  roster: CacheRead<Roster>;
  invitations: CacheRead<PendingInvitations> | null;
  limit: number;
  offset: number;
}

export const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description: 'The caller, as told by their verified Clerk session token.',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    activeOrganizationId: t.exposeID('activeOrganizationId', { nullable: true }),
    activeOrganizationRole: t.exposeString('activeOrganizationRole', { nullable: true }),
  }),
});

export const MemberRef = builder.objectRef<Member>('Member').implement({
  description: 'An active member of an organization.',
  fields: (t) => ({
    membershipId: t.exposeID('membershipId'),
    userId: t.exposeID('userId'),
    firstName: t.exposeString('firstName', { nullable: true }),
    lastName: t.exposeString('lastName', { nullable: true }),
    email: t.exposeString('email', {
      nullable: true,
      description: "The member's primary identifier in Clerk, normally the email address.",
    }),
    imageUrl: t.exposeString('imageUrl', { nullable: true }),
    role: t.exposeString('role', {
      description: 'Clerk role key, e.g. org:admin, org:member, or a custom role.',
    }),
    createdAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the user joined the organization.',
    }),
  }),
});

export const PendingInvitationRef = builder.objectRef<Invitation>('PendingInvitation').implement({
  description: 'An invitation to the organization that has not been accepted, revoked or expired yet.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    role: t.exposeString('role'),
    status: t.exposeString('status'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const TeamMembersRef = builder.objectRef<TeamMembersShape>('TeamMembers').implement({
  description: "One page of an organization's team.",
  fields: (t) => ({
    organizationId: t.exposeID('organizationId'),
    fromCache: t.boolean({
      description: 'True when every part of this answer was served from the cache without waiting for Clerk.',
      resolve: ({ roster, invitations }) => roster.fromCache && (invitations?.fromCache ?? true),
    }),
    stale: t.boolean({
      description:
        'True when Clerk could not be read and an expired or invalidated copy was served instead (fromCache is then true).',
      resolve: ({ roster, invitations }) => roster.stale || (invitations?.stale ?? false),
    }),
    cachedAt: t.field({
      type: 'DateTime',
      description: 'When the served data was read from Clerk.',
      // With two parts, the older one bounds how fresh the answer is.
      resolve: ({ roster, invitations }) =>
        Math.min(roster.fetchedAt, invitations?.fetchedAt ?? Number.POSITIVE_INFINITY),
    }),
    members: t.field({
      type: [MemberRef],
      description: "Active members in Clerk's order (newest first), after offset and limit.",
      resolve: ({ roster, limit, offset }) => roster.value.members.slice(offset, offset + limit),
    }),
    totalCount: t.int({
      description: 'All active members of the organization, regardless of limit and offset.',
      resolve: ({ roster }) => roster.value.members.length,
    }),
    pendingInvitations: t.field({
      type: [PendingInvitationRef],
      nullable: true,
      description: 'Pending invitations (all of them); null unless includePending is true.',
      resolve: ({ invitations }) => invitations?.value.invitations ?? null,
    }),
  }),
});

export const OrganizationRef = builder.objectRef<OrganizationShape>('Organization');
