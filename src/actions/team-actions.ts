/**
 * Team actions: invite, revoke, resend, change a role, remove, leave. Each one, in this order:
 *
 * 1. **May the caller?** Membership from the same fresh evidence as reads (`authorizeOrganization`: nothing of the
 *    organization is read for a non-member), then, for managing actions, `org:sys_memberships:manage` from the
 *    caller's membership in a roster read newer than any removal of theirs (system permissions are not in tokens).
 * 2. **One at a time per organization** (`OrganizationLocks`: in process, and a Redis lease across replicas).
 * 3. **Guards from the cache** (last manager, seats, already a member or invited, not found, not pending): a
 *    refusal costs no Clerk call.
 * 4. **The caller's write limit** and Clerk's invitation limits, then **the write**, through the call policy.
 * 5. **Read-your-writes:** Clerk's answer applied as its webhook will be (same deltas and versions), published to
 *    the other replicas and pushed to live streams (`publish`) before the action returns: the next read anywhere is
 *    a cache hit with the change, and the webhook that follows changes nothing.
 *
 * A write whose outcome is unknown (Clerk did not answer) is reported as such (`WriteOutcomeUnknownError`) and
 * marked so for the idempotency key: a retry with the key reads Clerk again first and treats what is already done
 * as done, so nothing is written twice. One audit line per action.
 */

import { type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  type AccessInputs,
  authorizeOrganization,
  permissionsInRoster,
  requirePermission,
  requireViewer,
  rosterVoidUpTo,
} from '../auth/access.js';
import type { CacheRead, ReadOptions, TeamCache } from '../team/cache.js';
import type { EventEffects } from '../team/effects.js';
import {
  type ActionRefusal,
  ActionRefusedError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
  WriteOutcomeUnknownError,
} from '../team/errors.js';
import { MANAGE_MEMBERSHIPS } from '../team/permissions.js';
import type { Invitation, PendingInvitations, Roster } from '../team/types.js';
import type { InvitationRequest, TeamWriter, WriteCall } from '../team/writer.js';
import type { AuditLog, TeamActionName } from './audit-log.js';
import {
  invitationVerdicts,
  keepsAManager,
  memberOf,
  pendingInvitationOf,
  type Seats,
  seatsOf,
} from './guards.js';
import {
  emailKey,
  expiresInDaysOf,
  invitationIdOf,
  invitationsOf,
  redirectUrlOf,
  roleKeyOf,
  userIdOf,
} from './input.js';
import type { OrganizationLocks } from './organization-locks.js';
import type { RoleSet } from './role-set.js';

/** Clerk's bulk endpoint takes at most this many invitations per call. */
export const CLERK_BULK_LIMIT = 10;

/** What one request brings to an action (GraphQL's context has all of it). */
export interface ActionRequest extends AccessInputs {
  requestId?: string;
  /** When the request arrived (epoch ms). */
  requestedAt: number;
  /** When the request stops waiting (epoch ms): for the lock, the guards' reads and the writes. */
  deadline: number;
  /** Set by the idempotency plugin when the mutation carries an `Idempotency-Key`. */
  idempotency?: {
    /** A retry of an attempt whose outcome is unknown: reconcile with Clerk before writing. */
    retryOfUnknownOutcome: boolean;
    /** The write's outcome is unknown: keep the key 'unknown' instead of storing this answer. */
    markOutcomeUnknown(): void;
  };
}

/** The caller's write limit and Clerk's invitation limits (src/actions/write-limits.ts). */
export interface WriteLimiter {
  /** All or nothing: one write for the caller, and the invitations and bulk calls it will make. */
  take(
    userId: string,
    cost: { invitations?: number; bulkCalls?: number },
  ): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number; limit: string }>;
}

/** Refused by our write limits (the caller's, or Clerk's documented invitation limits): nothing was written. */
export class WriteRateLimitedError extends UpstreamRateLimitedError {
  constructor(
    readonly limit: string,
    retryAfterSeconds: number,
  ) {
    super(retryAfterSeconds);
    this.name = 'WriteRateLimitedError';
    this.message = `Write limit reached (${limit}); retry in ${retryAfterSeconds} s`;
  }
}

export interface TeamActionsOptions {
  /** The guards' reads (inside the organization's lock, so after any earlier action's publish). */
  cache: TeamCache;
  writer: TeamWriter;
  roles: RoleSet;
  locks: OrganizationLocks;
  /** @default none: no write limits */
  limits?: WriteLimiter;
  /**
   * Applies a write's effects here (cache, revocations, live streams at once) and tells the other replicas;
   * resolves once done (or once telling them failed: the effects are then owed, as a webhook's would be).
   */
  publish(effects: EventEffects): Promise<void>;
  audit: AuditLog;
  /** @default Date.now */
  now?: () => number;
}

export interface InvitationResult {
  email: string;
  invitation: Invitation | null;
  errorCode: string | null;
  errorMessage: string | null;
}

/** The organization as the payload shows it: a roster read after the change (the client re-selects members). */
export interface AfterWrite {
  organizationId: string;
  roster: CacheRead<Roster>;
}

export interface TeamActions {
  inviteMembers(
    request: ActionRequest,
    args: {
      organizationId: string;
      invitations: readonly InvitationRequest[];
      redirectUrl?: string | null;
      expiresInDays?: number | null;
    },
  ): Promise<AfterWrite & { results: InvitationResult[] }>;
  revokeInvitation(
    request: ActionRequest,
    args: { organizationId: string; invitationId: string },
  ): Promise<AfterWrite>;
  resendInvitation(
    request: ActionRequest,
    args: { organizationId: string; invitationId: string },
  ): Promise<AfterWrite & { invitation: Invitation }>;
  updateMemberRole(
    request: ActionRequest,
    args: { organizationId: string; userId: string; role: string },
  ): Promise<AfterWrite>;
  removeMember(request: ActionRequest, args: { organizationId: string; userId: string }): Promise<AfterWrite>;
  leaveOrganization(
    request: ActionRequest,
    args: { organizationId: string },
  ): Promise<{ organizationId: string }>;
  /** Seats as the cache holds them (the `Organization.seats` field). */
  seats(roster: Roster, invitations: PendingInvitations): Seats;
}

/** Per-item codes Clerk reports for a whole bulk call: the call's items are then sent one by one. */
const PER_ITEM: ReadonlySet<ActionRefusal> = new Set(['ALREADY_INVITED', 'ALREADY_MEMBER']);

const tracer = trace.getTracer('team-graphql/actions');

export function createTeamActions(options: TeamActionsOptions): TeamActions {
  const { cache, writer, roles, locks } = options;
  const now = options.now ?? Date.now;

  const readOptions = (request: ActionRequest, forceRefresh = false): ReadOptions => ({
    requestedAt: request.requestedAt,
    deadline: request.deadline,
    caller: request.viewer?.userId,
    priority: 'interactive',
    forceRefresh,
  });
  const writeCall = (request: ActionRequest): WriteCall => ({
    deadline: request.deadline,
    caller: requireViewer(request.viewer).userId,
  });

  /**
   * The roster the guards and the permission check read: the cache's, read again from Clerk when it cannot speak
   * for the caller (older than a removal of theirs, or than what this replica cannot confirm) or when reconciling.
   */
  async function rosterFor(request: ActionRequest, organizationId: string, reconcile: boolean) {
    const voidUpTo = rosterVoidUpTo(request, organizationId);
    let roster = await cache.getRoster(organizationId, readOptions(request, reconcile));
    if (roster.readStartedAt <= voidUpTo) {
      roster = await cache.getRoster(organizationId, {
        ...readOptions(request, true),
        requestedAt: Math.max(request.requestedAt, voidUpTo + 1),
      });
    }
    return { roster, voidUpTo };
  }

  async function invitationsFor(request: ActionRequest, organizationId: string, reconcile: boolean) {
    const read = await cache.getPendingInvitations(organizationId, readOptions(request, reconcile));
    if (read.stale) throw new UpstreamUnavailableError('Clerk could not be read', undefined);
    return read.value;
  }

  async function takeLimit(request: ActionRequest, cost: { invitations?: number; bulkCalls?: number }) {
    const decision = await options.limits?.take(requireViewer(request.viewer).userId, cost);
    if (decision && !decision.allowed) {
      throw new WriteRateLimitedError(decision.limit, Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
    }
  }

  /** The roster after the change: the cache's patched copy (a hit), for the payload's `organization`. */
  const afterWrite = async (request: ActionRequest, organizationId: string): Promise<AfterWrite> => ({
    organizationId,
    roster: await cache.getRoster(organizationId, readOptions(request)),
  });

  /**
   * Authorizes, serializes and audits one action; `body` runs under the organization's lock with the roster the
   * caller was authorized from, and returns the audit's targets with its result.
   */
  async function act<T>(
    request: ActionRequest,
    action: TeamActionName,
    organizationId: string,
    permission: string | null,
    body: (
      roster: CacheRead<Roster>,
      reconcile: boolean,
    ) => Promise<{ result: T; targets: string[]; outcome?: string; detail?: AuditEntryDetail }>,
  ): Promise<T> {
    // One span per action (name, organization, outcome): its Clerk calls are its children.
    return tracer.startActiveSpan(
      `team_action ${action}`,
      { attributes: { 'team.action': action, 'team.organization_id': organizationId } },
      (span) => actInSpan(span, request, action, organizationId, permission, body),
    );
  }

  async function actInSpan<T>(
    span: Span,
    ...[request, action, organizationId, permission, body]: Parameters<typeof act<T>>
  ): Promise<T> {
    const audit: AuditLog = (line) => {
      span.setAttribute('team.action.outcome', line.outcome);
      if (line.outcome !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: line.outcome });
      span.end();
      options.audit(line);
    };
    if (!request.viewer) span.end(); // no actor to audit: refused below, before anything is read
    const viewer = requireViewer(request.viewer);
    const entry = { actor: viewer.userId, organizationId, action, requestId: request.requestId };
    let targets: string[] = [];
    try {
      await authorizeOrganization(request, organizationId);
      const reconcile = request.idempotency?.retryOfUnknownOutcome ?? false;
      return await locks.run(organizationId, request.deadline, async () => {
        const { roster, voidUpTo } = await rosterFor(request, organizationId, reconcile);
        const permissions = permissionsInRoster(request, organizationId, roster, voidUpTo);
        if (permission) requirePermission(permissions, permission, organizationId);
        const done = await body(roster, reconcile);
        targets = done.targets;
        audit({
          ...entry,
          targets,
          outcome: done.outcome ?? 'ok',
          ...(done.detail ? { detail: done.detail } : {}),
        });
        return done.result;
      });
    } catch (error) {
      if (error instanceof WriteOutcomeUnknownError) request.idempotency?.markOutcomeUnknown();
      audit({ ...entry, targets, outcome: outcomeOf(error) });
      throw error;
    }
  }

  /** Writes and publishes; an unknown outcome is marked for the idempotency key before it is rethrown. */
  async function written<T>(
    request: ActionRequest,
    write: () => Promise<{ value: T; effects: EventEffects }>,
  ) {
    try {
      const { value, effects } = await write();
      await options.publish(effects);
      return value;
    } catch (error) {
      if (error instanceof WriteOutcomeUnknownError) request.idempotency?.markOutcomeUnknown();
      throw error;
    }
  }

  /** Sends invitations in bulk calls of ≤ 10; a failed call does not undo the others. */
  async function sendInvitations(
    request: ActionRequest,
    organizationId: string,
    toSend: readonly InvitationRequest[],
    sendOptions: { redirectUrl?: string; expiresInDays?: number },
  ): Promise<Map<string, InvitationResult>> {
    const results = new Map<string, InvitationResult>();
    const call = writeCall(request);
    const refuse = (items: readonly InvitationRequest[], code: string, message: string) => {
      for (const { email } of items) {
        results.set(emailKey(email), { email, invitation: null, errorCode: code, errorMessage: message });
      }
    };
    /** Set once a failure means later calls would fail too (Clerk down, limited, out of seats). */
    let stop: { code: string; message: string } | undefined;
    const chunks: InvitationRequest[][] = [];
    for (let i = 0; i < toSend.length; i += CLERK_BULK_LIMIT)
      chunks.push(toSend.slice(i, i + CLERK_BULK_LIMIT));

    const send = async (chunk: readonly InvitationRequest[]) => {
      const invitations = await written(request, () =>
        writer.createInvitations(organizationId, chunk, { inviterUserId: call.caller, ...sendOptions }, call),
      );
      const byEmail = new Map(invitations.map((invitation) => [emailKey(invitation.email), invitation]));
      for (const { email } of chunk) {
        const invitation = byEmail.get(emailKey(email)) ?? null;
        results.set(emailKey(email), {
          email,
          invitation,
          errorCode: invitation ? null : 'UPSTREAM_UNAVAILABLE',
          errorMessage: invitation ? null : 'Clerk did not return this invitation.',
        });
      }
    };

    for (const chunk of chunks) {
      if (stop) {
        refuse(chunk, stop.code, stop.message);
        continue;
      }
      try {
        await send(chunk);
      } catch (error) {
        if (error instanceof ActionRefusedError && PER_ITEM.has(error.code) && chunk.length > 1) {
          // Clerk refuses a bulk call whole for one item the cache did not know about: send them one by one.
          for (const single of chunk) {
            try {
              await send([single]);
            } catch (each) {
              const { code, message } = itemFailure(each);
              refuse([single], code, message);
            }
          }
          continue;
        }
        const { code, message } = itemFailure(error);
        refuse(chunk, code, message);
        if (!(error instanceof ActionRefusedError) || error.code === 'SEATS_EXHAUSTED')
          stop = { code, message };
      }
    }
    return results;
  }

  return {
    async inviteMembers(request, args) {
      const requested = invitationsOf(args.invitations);
      const redirectUrl = redirectUrlOf(args.redirectUrl);
      const expiresInDays = expiresInDaysOf(args.expiresInDays);
      return act(
        request,
        'inviteMembers',
        args.organizationId,
        MANAGE_MEMBERSHIPS,
        async (roster, reconcile) => {
          const known = await roles.roles(writeCall(request));
          for (const { role } of requested) {
            if (!known.has(role)) throw unknownRole(role, 'invitations');
          }
          const invitations = await invitationsFor(request, args.organizationId, reconcile);
          const verdicts = invitationVerdicts(requested, roster.value, invitations, now());
          const results = new Map<string, InvitationResult>();
          const toSend: InvitationRequest[] = [];
          for (const verdict of verdicts) {
            if (verdict.send) {
              toSend.push({ email: verdict.email, role: verdict.role });
              continue;
            }
            // Reconciling a retry: an invitation the unanswered attempt did create is that attempt's success.
            const earlier =
              reconcile && verdict.code === 'ALREADY_INVITED'
                ? invitations.invitations.find(
                    (each) => emailKey(each.email) === emailKey(verdict.email) && each.role === verdict.role,
                  )
                : undefined;
            results.set(emailKey(verdict.email), {
              email: verdict.email,
              invitation: earlier ?? null,
              errorCode: earlier ? null : verdict.code,
              errorMessage: earlier ? null : verdict.message,
            });
          }
          if (toSend.length > 0) {
            await takeLimit(request, {
              invitations: toSend.length,
              bulkCalls: Math.ceil(toSend.length / CLERK_BULK_LIMIT),
            });
            for (const [key, result] of await sendInvitations(request, args.organizationId, toSend, {
              redirectUrl,
              expiresInDays,
            }))
              results.set(key, result);
          }
          const ordered = requested.map(({ email }) => results.get(emailKey(email)) as InvitationResult);
          const sent = ordered.filter((result) => result.invitation);
          const refused = ordered.length - sent.length;
          return {
            result: { ...(await afterWrite(request, args.organizationId)), results: ordered },
            targets: sent.flatMap((result) => (result.invitation ? [result.invitation.id] : [])),
            outcome: refused === 0 ? 'ok' : sent.length === 0 ? 'refused' : 'partial',
            detail: { requested: ordered.length, sent: sent.length, refused },
          };
        },
      );
    },

    async revokeInvitation(request, args) {
      const invitationId = invitationIdOf(args.invitationId);
      return act(
        request,
        'revokeInvitation',
        args.organizationId,
        MANAGE_MEMBERSHIPS,
        async (_roster, reconcile) => {
          const invitations = await invitationsFor(request, args.organizationId, reconcile);
          const listed = invitations.invitations.some((each) => each.id === invitationId);
          // Reconciling: the unanswered attempt revoked it (it is no longer pending): done.
          if (!(reconcile && !listed)) {
            pendingInvitationOf(invitations, invitationId, now());
            await written(request, () =>
              writer.revokeInvitation(
                args.organizationId,
                invitationId,
                writeCall(request).caller,
                writeCall(request),
              ),
            );
          }
          return { result: await afterWrite(request, args.organizationId), targets: [invitationId] };
        },
      );
    },

    async resendInvitation(request, args) {
      const invitationId = invitationIdOf(args.invitationId);
      return act(
        request,
        'resendInvitation',
        args.organizationId,
        MANAGE_MEMBERSHIPS,
        async (_roster, reconcile) => {
          const invitations = await invitationsFor(request, args.organizationId, reconcile);
          const call = writeCall(request);
          if (reconcile && !invitations.invitations.some((each) => each.id === invitationId)) {
            // The unanswered attempt revoked it, and may or may not have sent the new one: the list shows which.
            throw new ActionRefusedError(
              'INVITATION_NOT_PENDING',
              `${invitationId} is no longer pending: see the pending invitations, and invite the address again if needed.`,
            );
          }
          // Clerk has no resend: the same email and role, revoked and invited again (a new link, a new expiry).
          const original = pendingInvitationOf(invitations, invitationId, now());
          await takeLimit(request, { invitations: 1, bulkCalls: 1 });
          await written(request, () =>
            writer.revokeInvitation(args.organizationId, invitationId, call.caller, call),
          );
          const [invitation] = await written(request, () =>
            writer.createInvitations(
              args.organizationId,
              [{ email: original.email, role: original.role }],
              { inviterUserId: call.caller },
              call,
            ),
          );
          if (!invitation)
            throw new UpstreamUnavailableError('Clerk did not return the new invitation', undefined);
          return {
            result: { ...(await afterWrite(request, args.organizationId)), invitation },
            targets: [invitationId, invitation.id],
          };
        },
      );
    },

    async updateMemberRole(request, args) {
      const userId = userIdOf(args.userId);
      const role = roleKeyOf(args.role);
      return act(request, 'updateMemberRole', args.organizationId, MANAGE_MEMBERSHIPS, async (roster) => {
        const known = await roles.roles(writeCall(request));
        const permissionsAfter = known.get(role);
        if (!permissionsAfter) throw unknownRole(role, 'role');
        const member = memberOf(roster.value, userId);
        // Already so (also a retry whose first attempt did it): nothing to write.
        if (member.role !== role) {
          keepsAManager(roster.value, userId, permissionsAfter);
          await takeLimit(request, {});
          await written(request, () =>
            writer.updateMemberRole(args.organizationId, userId, role, writeCall(request)),
          );
        }
        return { result: await afterWrite(request, args.organizationId), targets: [userId] };
      });
    },

    async removeMember(request, args) {
      const userId = userIdOf(args.userId);
      return act(
        request,
        'removeMember',
        args.organizationId,
        MANAGE_MEMBERSHIPS,
        async (roster, reconcile) => {
          // Reconciling: the unanswered attempt removed them: done.
          if (!(reconcile && !roster.value.byUserId.has(userId))) {
            memberOf(roster.value, userId);
            keepsAManager(roster.value, userId, null);
            await takeLimit(request, {});
            await written(request, () =>
              writer.removeMember(args.organizationId, userId, writeCall(request)),
            );
          }
          return { result: await afterWrite(request, args.organizationId), targets: [userId] };
        },
      );
    },

    async leaveOrganization(request, args) {
      const viewer = requireViewer(request.viewer);
      return act(request, 'leaveOrganization', args.organizationId, null, async (roster) => {
        keepsAManager(roster.value, viewer.userId, null);
        await takeLimit(request, {});
        await written(request, () =>
          writer.removeMember(args.organizationId, viewer.userId, writeCall(request)),
        );
        return { result: { organizationId: args.organizationId }, targets: [viewer.userId] };
      });
    },

    seats: (roster, invitations) => seatsOf(roster, invitations, now()),
  };
}

type AuditEntryDetail = Record<string, number | string | boolean>;

function unknownRole(role: string, argumentName: string) {
  return new ActionRefusedError(
    'UNKNOWN_ROLE',
    `"${role}" is not a role of this organization (${argumentName}).`,
  );
}

/** One invitation's failure as its result reports it. */
function itemFailure(error: unknown): { code: string; message: string } {
  if (error instanceof ActionRefusedError) {
    return { code: error.code === 'UNKNOWN_ROLE' ? 'BAD_USER_INPUT' : error.code, message: error.message };
  }
  if (error instanceof WriteOutcomeUnknownError) {
    return {
      code: 'OUTCOME_UNKNOWN',
      message: 'Clerk did not confirm this invitation: retry with the same Idempotency-Key to find out.',
    };
  }
  if (error instanceof UpstreamRateLimitedError) {
    return { code: 'RATE_LIMITED', message: 'Clerk is rate limiting invitations: retry later.' };
  }
  return { code: 'UPSTREAM_UNAVAILABLE', message: 'Clerk could not be reached: retry later.' };
}

/** The audit's word for a failed action. */
function outcomeOf(error: unknown): string {
  if (error instanceof ActionRefusedError) return error.code;
  if (error instanceof WriteOutcomeUnknownError) return 'outcome_unknown';
  if (error instanceof UpstreamRateLimitedError) return 'rate_limited';
  if (error instanceof Error) return error.name;
  return 'error';
}
