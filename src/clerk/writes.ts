/**
 * Team writes to Clerk with the official SDK (invitations in bulk, revocations, role changes, removals), through
 * the call policy as interactive calls under the caller's fairness key. The only module that sees Clerk's answers
 * to writes: each is handed, raw, to the webhook payload mapper (./events.ts) as the webhook that follows will
 * carry it, so the cache applies the same delta with the same versions now and ignores the webhook later.
 *
 * A write is never retried here (`retryable: false`): one that got no answer may have happened. Clerk's refusals
 * come back as `ActionRefusedError` with our codes; Clerk's own checks catch what a cache that was behind missed.
 */
import type { ClerkClient } from '@clerk/backend';
import { isClerkAPIResponseError } from '@clerk/backend/errors';
import {
  type ActionRefusal,
  ActionRefusedError,
  CircuitOpenError,
  UpstreamUnavailableError,
  WriteOutcomeUnknownError,
} from '../team/errors.js';
import { internPermissions } from '../team/permissions.js';
import type { Invitation } from '../team/types.js';
import type { TeamWriter, WriteCall } from '../team/writer.js';
import { mergeEffects } from '../team/writer.js';
import { toDomainError } from './errors.js';
import { effectsOf } from './events.js';
import type { Upstream, UpstreamRoute } from './upstream.js';

export interface ClerkWriterOptions {
  clerk: Pick<ClerkClient, 'organizations' | 'organizationRoles'>;
  /** Budget, timeout, queue and breaker for every call (writes are not retried). */
  upstream: Upstream;
}

/** Clerk's error codes for refusals a guard of ours also makes (when the cache was behind). */
const REFUSALS: Record<string, ActionRefusal> = {
  organization_minimum_permissions_needed: 'LAST_ADMIN',
  organization_membership_quota_exceeded: 'SEATS_EXHAUSTED',
  organization_invitation_not_unique: 'ALREADY_INVITED',
  already_a_member_in_organization: 'ALREADY_MEMBER',
  organization_invitation_not_pending: 'INVITATION_NOT_PENDING',
  organization_invitation_already_accepted: 'INVITATION_NOT_PENDING',
  organization_invitation_revoked: 'INVITATION_NOT_PENDING',
};

/** What a 404 means for a write: the thing it names is gone, or (for writes carrying a role) the role is. */
type NotFound = 'NOT_FOUND' | 'UNKNOWN_ROLE';

function refusalOf(error: unknown, notFound: NotFound): ActionRefusedError | undefined {
  if (!isClerkAPIResponseError(error)) return undefined;
  const first = error.errors[0];
  const code = first?.code ?? '';
  const message = first?.longMessage ?? first?.message ?? error.message;
  const refusal = REFUSALS[code] ?? (error.status === 404 ? notFound : undefined);
  return refusal ? new ActionRefusedError(refusal, message) : undefined;
}

/** Sent and not answered usably: it may have happened. */
const outcomeUnknown = (error: unknown) =>
  error instanceof UpstreamUnavailableError &&
  !(error instanceof CircuitOpenError) &&
  (error.status === undefined || error.status >= 500);

export function createClerkWriter({ clerk, upstream }: ClerkWriterOptions): TeamWriter {
  async function write<T>(
    route: UpstreamRoute,
    organizationId: string,
    call: WriteCall,
    notFound: NotFound,
    request: () => Promise<T>,
  ): Promise<T> {
    let sent = false;
    try {
      return await upstream.run(
        route,
        async () => {
          sent = true;
          try {
            return await request();
          } catch (error) {
            throw refusalOf(error, notFound) ?? toDomainError(error, { request: `Clerk ${route}` });
          }
        },
        { deadline: call.deadline, caller: call.caller, priority: 'interactive', retryable: false },
      );
    } catch (error) {
      if (sent && outcomeUnknown(error)) {
        throw new WriteOutcomeUnknownError(
          `Clerk did not confirm the change to organization ${organizationId}: it may or may not have happened`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** The answer's raw JSON as the webhook will carry it (the SDK keeps it on every resource). */
  const rawOf = (resource: { raw: unknown }): unknown => resource.raw;

  return {
    async createInvitations(organizationId, invitations, options, call) {
      const page = await write('invitation_writes', organizationId, call, 'UNKNOWN_ROLE', () =>
        clerk.organizations.createOrganizationInvitationBulk(
          organizationId,
          invitations.map(({ email, role }) => ({
            emailAddress: email,
            role,
            inviterUserId: options.inviterUserId,
            ...(options.redirectUrl ? { redirectUrl: options.redirectUrl } : {}),
            ...(options.expiresInDays ? { expiresInDays: options.expiresInDays } : {}),
          })),
        ),
      );
      const effects = page.data.map((invitation) =>
        effectsOf({ type: 'organizationInvitation.created', data: rawOf(invitation) }),
      );
      return {
        value: effects.flatMap((each) =>
          (each.patches ?? []).flatMap(({ delta }) =>
            delta.kind === 'invitationUpsert' ? [delta.invitation as Invitation] : [],
          ),
        ),
        effects: mergeEffects(effects),
      };
    },

    async revokeInvitation(organizationId, invitationId, requestingUserId, call) {
      const invitation = await write('invitation_writes', organizationId, call, 'NOT_FOUND', () =>
        clerk.organizations.revokeOrganizationInvitation({ organizationId, invitationId, requestingUserId }),
      );
      return {
        value: {
          id: invitation.id,
          email: invitation.emailAddress,
          role: invitation.role,
          status: invitation.status ?? 'revoked',
          createdAt: new Date(invitation.createdAt).toISOString(),
          expiresAt: invitation.expiresAt ? new Date(invitation.expiresAt).toISOString() : null,
          version: invitation.updatedAt,
        },
        effects: effectsOf({ type: 'organizationInvitation.revoked', data: rawOf(invitation) }),
      };
    },

    async updateMemberRole(organizationId, userId, role, call) {
      const membership = await write('membership_writes', organizationId, call, 'UNKNOWN_ROLE', () =>
        clerk.organizations.updateOrganizationMembership({ organizationId, userId, role }),
      );
      return {
        value: null,
        effects: effectsOf({ type: 'organizationMembership.updated', data: rawOf(membership) }),
      };
    },

    async removeMember(organizationId, userId, call) {
      const membership = await write('membership_writes', organizationId, call, 'NOT_FOUND', () =>
        clerk.organizations.deleteOrganizationMembership({ organizationId, userId }),
      );
      return {
        value: null,
        effects: effectsOf({ type: 'organizationMembership.deleted', data: rawOf(membership) }),
      };
    },

    async readRoles(call) {
      const roles: { key: string; permissions: readonly string[] }[] = [];
      for (let offset = 0; ; offset += 100) {
        const page = await upstream.run(
          'organization_roles',
          () =>
            clerk.organizationRoles
              .getOrganizationRoleList({ limit: 100, offset })
              .catch((error: unknown) => {
                throw toDomainError(error, { request: 'Clerk organization roles' });
              }),
          { deadline: call.deadline, caller: call.caller, priority: 'interactive' },
        );
        for (const role of page.data) {
          roles.push({
            key: role.key,
            permissions: internPermissions(role.permissions.map((permission) => permission.key)),
          });
        }
        if (page.data.length < 100 || offset + 100 >= page.totalCount) break;
      }
      return roles;
    },
  };
}
