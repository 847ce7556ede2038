/**
 * The team actions (`Mutation`): invite, revoke, resend, change a role, remove, leave; their input and payloads.
 * Each payload's `organization` is read after the write (a new team snapshot of the request), so a client
 * re-selects `members(...)` with its own arguments and sees the change (`fromCache: true`, no Clerk read).
 * The rules live in src/actions/team-actions.ts; this module only translates.
 */
import type { AfterWrite, InvitationResult } from '../../actions/team-actions.js';
import type { Invitation } from '../../team/types.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { toGraphQLError } from '../errors.js';
import { OrganizationRef, type OrganizationShape } from './organization.js';
import { PendingInvitationRef } from './pending-invitation.js';

const InvitationInput = builder.inputType('InvitationInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    role: t.string({ required: true, description: 'A role key of the organization, e.g. org:member.' }),
  }),
});

/** The organization after a write: authorized by the roster the action read, then a fresh snapshot. */
const organizationAfter = ({ organizationId, roster }: AfterWrite): OrganizationShape => ({
  id: organizationId,
  evidence: { kind: 'roster', roster },
});

const InvitationResultRef = builder.objectRef<InvitationResult>('InvitationResult').implement({
  description: 'One requested invitation: sent (invitation), or refused (errorCode, errorMessage).',
  fields: (t) => ({
    email: t.exposeString('email'),
    invitation: t.field({
      type: PendingInvitationRef,
      nullable: true,
      resolve: (result) => result.invitation,
    }),
    errorCode: t.exposeString('errorCode', {
      nullable: true,
      description:
        'ALREADY_MEMBER, ALREADY_INVITED, SEATS_EXHAUSTED, BAD_USER_INPUT, RATE_LIMITED, OUTCOME_UNKNOWN or ' +
        'UPSTREAM_UNAVAILABLE; null when sent.',
    }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
  }),
});

const InviteMembersPayloadRef = builder
  .objectRef<AfterWrite & { results: InvitationResult[] }>('InviteMembersPayload')
  .implement({
    fields: (t) => ({
      results: t.field({ type: [InvitationResultRef], resolve: (payload) => payload.results }),
      organization: t.field({ type: OrganizationRef, resolve: organizationAfter }),
    }),
  });

const TeamChangePayloadRef = builder.objectRef<AfterWrite>('TeamChangePayload').implement({
  fields: (t) => ({ organization: t.field({ type: OrganizationRef, resolve: organizationAfter }) }),
});

const ResendInvitationPayloadRef = builder
  .objectRef<AfterWrite & { invitation: Invitation }>('ResendInvitationPayload')
  .implement({
    fields: (t) => ({
      invitation: t.field({ type: PendingInvitationRef, resolve: (payload) => payload.invitation }),
      organization: t.field({ type: OrganizationRef, resolve: organizationAfter }),
    }),
  });

const LeaveOrganizationPayloadRef = builder
  .objectRef<{ organizationId: string }>('LeaveOrganizationPayload')
  .implement({ fields: (t) => ({ organizationId: t.exposeID('organizationId') }) });

/** Runs an action with the request's inputs, then renews the request's team snapshot (the payload shows the change). */
async function run<T>(context: GraphQLContext, action: (request: ActionInputs) => Promise<T>): Promise<T> {
  try {
    const result = await action({
      viewer: context.viewer,
      revocations: context.revocations,
      team: context.team,
      ...context.requestInfo,
      idempotency: context.idempotency,
    });
    context.renewTeamSnapshot();
    return result;
  } catch (error) {
    throw toGraphQLError(error);
  }
}
type ActionInputs = Parameters<GraphQLContext['actions']['removeMember']>[0];

builder.mutationFields((t) => ({
  inviteMembers: t.field({
    type: InviteMembersPayloadRef,
    description:
      'Invites people by email (1–100, in Clerk bulk calls of ≤ 10; a failed call does not undo the others). Each ' +
      'result says whether it was sent. Needs org:sys_memberships:manage. Safe to retry with an Idempotency-Key.',
    args: {
      organizationId: t.arg.id({ required: true }),
      invitations: t.arg({ type: [InvitationInput], required: true }),
      redirectUrl: t.arg.string({ description: 'Where the invitation link leads (absolute http(s) URL).' }),
      expiresInDays: t.arg.int({ description: '1–365; default Clerk’s (30).' }),
    },
    resolve: (_root, args, context) =>
      run(context, (request) =>
        context.actions.inviteMembers(request, {
          organizationId: args.organizationId,
          invitations: args.invitations,
          redirectUrl: args.redirectUrl,
          expiresInDays: args.expiresInDays,
        }),
      ),
  }),
  revokeInvitation: t.field({
    type: TeamChangePayloadRef,
    description: 'Revokes a pending invitation. Needs org:sys_memberships:manage.',
    args: { organizationId: t.arg.id({ required: true }), invitationId: t.arg.id({ required: true }) },
    resolve: (_root, args, context) =>
      run(context, (request) => context.actions.revokeInvitation(request, args)),
  }),
  resendInvitation: t.field({
    type: ResendInvitationPayloadRef,
    description:
      'Sends a pending invitation again: Clerk has no resend, so it is revoked and a new one (same email and role, ' +
      'a new link and expiry) is created. Needs org:sys_memberships:manage.',
    args: { organizationId: t.arg.id({ required: true }), invitationId: t.arg.id({ required: true }) },
    resolve: (_root, args, context) =>
      run(context, (request) => context.actions.resendInvitation(request, args)),
  }),
  updateMemberRole: t.field({
    type: TeamChangePayloadRef,
    description:
      'Changes a member’s role. Needs org:sys_memberships:manage; the last member who can manage members cannot ' +
      'lose that (LAST_ADMIN).',
    args: {
      organizationId: t.arg.id({ required: true }),
      userId: t.arg.id({ required: true }),
      role: t.arg.string({ required: true }),
    },
    resolve: (_root, args, context) =>
      run(context, (request) => context.actions.updateMemberRole(request, args)),
  }),
  removeMember: t.field({
    type: TeamChangePayloadRef,
    description:
      'Removes a member (their access ends on their next request). Needs org:sys_memberships:manage; not the last ' +
      'member who can manage members (LAST_ADMIN).',
    args: { organizationId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => run(context, (request) => context.actions.removeMember(request, args)),
  }),
  leaveOrganization: t.field({
    type: LeaveOrganizationPayloadRef,
    description: 'The caller leaves the organization (not as its last admin: LAST_ADMIN).',
    args: { organizationId: t.arg.id({ required: true }) },
    resolve: (_root, args, context) =>
      run(context, (request) => context.actions.leaveOrganization(request, args)),
  }),
}));
