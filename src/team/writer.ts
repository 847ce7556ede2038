/**
 * Where team changes are written (Clerk, through its SDK: src/clerk/writes.ts). Each write answers with what it
 * changed as the webhook that follows will describe it (`effects`, from Clerk's own answer: same deltas, same
 * versions), so applying them makes the change visible at once and that webhook a no-op.
 */
import type { EventEffects } from './effects.js';
import type { Invitation } from './types.js';

/** One write's place in the Clerk call policy: the request's deadline, and the caller as the fairness key. */
export interface WriteCall {
  deadline: number;
  caller: string;
}

export interface InvitationRequest {
  email: string;
  role: string;
}

export interface InvitationOptions {
  inviterUserId: string;
  /** Where the invitation's link leads (an absolute http(s) URL). @default Clerk's */
  redirectUrl?: string;
  /** 1–365. @default Clerk's (30 days) */
  expiresInDays?: number;
}

export interface Written<T> {
  value: T;
  effects: EventEffects;
}

/** An organization role of the instance: its key (`org:admin`) and the permissions a member with it holds. */
export interface RoleDefinition {
  key: string;
  permissions: readonly string[];
}

/**
 * Every method throws `ActionRefusedError` when Clerk refuses the write (its codes mapped to ours),
 * `WriteOutcomeUnknownError` when it may or may not have happened, and the call policy's errors otherwise.
 */
export interface TeamWriter {
  /** At most 10 (Clerk's bulk limit): all are created, or none. */
  createInvitations(
    organizationId: string,
    invitations: readonly InvitationRequest[],
    options: InvitationOptions,
    call: WriteCall,
  ): Promise<Written<Invitation[]>>;
  revokeInvitation(
    organizationId: string,
    invitationId: string,
    requestingUserId: string,
    call: WriteCall,
  ): Promise<Written<Invitation>>;
  updateMemberRole(
    organizationId: string,
    userId: string,
    role: string,
    call: WriteCall,
  ): Promise<Written<null>>;
  removeMember(organizationId: string, userId: string, call: WriteCall): Promise<Written<null>>;
  /** The instance's organization roles (a read: for validating roles and knowing what a role change grants). */
  readRoles(call: WriteCall): Promise<RoleDefinition[]>;
}

/** Several writes' effects as one (in order). */
export function mergeEffects(all: readonly EventEffects[]): EventEffects {
  return {
    invalidations: all.flatMap((effects) => effects.invalidations),
    revocations: all.flatMap((effects) => effects.revocations),
    patches: all.flatMap((effects) => effects.patches ?? []),
  };
}

/** What team actions ask of the Redis layer (src/shared-state/organization-lease.ts): a cluster-wide lease. */
export interface OrganizationLease {
  /**
   * Resolves with `release` once this replica holds the organization's lease, waiting until `deadline` at most
   * (then it rejects). When Redis cannot be asked it resolves at once with a no-op `release` (and says so in the
   * log): writes go on under the local lock, and Clerk's own checks still hold.
   */
  acquire(organizationId: string, deadline: number): Promise<() => Promise<void>>;
}
