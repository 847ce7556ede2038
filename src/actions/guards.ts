/**
 * The rules a team action must keep, decided from what the cache holds before anything is written (so a refusal
 * costs no Clerk call): an organization always keeps someone who can manage its members, members plus pending
 * invitations stay within its seats, and nobody is invited twice. Pure functions of a roster, its pending
 * invitations and the role set; Clerk enforces the same rules and has the last word when the cache was behind.
 */
import { type ActionRefusal, ActionRefusedError } from '../team/errors.js';
import { pendingAt } from '../team/invitations.js';
import { canManageMembers } from '../team/permissions.js';
import type { Invitation, Member, PendingInvitations, Roster } from '../team/types.js';
import { emailKey } from './input.js';

export interface Seats {
  members: number;
  pendingInvitations: number;
  /** null: unlimited. */
  max: number | null;
  /** null: unlimited. */
  available: number | null;
}

export function seatsOf(roster: Roster, invitations: PendingInvitations, now: number): Seats {
  const members = roster.members.length;
  const pendingInvitations = pendingAt(invitations.invitations, now).length;
  const max = roster.organization?.maxAllowedMemberships ?? null;
  return {
    members,
    pendingInvitations,
    max,
    available: max === null ? null : Math.max(0, max - members - pendingInvitations),
  };
}

/**
 * Refuses a change that would leave no member able to manage members: `userId` losing the permission (removed,
 * leaving, or given a role without it) while nobody else holds it.
 */
export function keepsAManager(roster: Roster, userId: string, permissionsAfter: readonly string[] | null) {
  const member = roster.byUserId.get(userId);
  if (!member || !canManageMembers(member.permissions)) return;
  if (permissionsAfter && canManageMembers(permissionsAfter)) return;
  const others = roster.members.some((each) => each.userId !== userId && canManageMembers(each.permissions));
  if (!others) {
    throw new ActionRefusedError(
      'LAST_ADMIN',
      'This is the last member who can manage members: make someone else an admin first.',
    );
  }
}

export function memberOf(roster: Roster, userId: string): Member {
  const member = roster.byUserId.get(userId);
  if (!member) throw new ActionRefusedError('NOT_FOUND', `${userId} is not a member of this organization.`);
  return member;
}

/** The invitation, pending (listed and not expired) at `now`. */
export function pendingInvitationOf(
  invitations: PendingInvitations,
  invitationId: string,
  now: number,
): Invitation {
  const invitation = invitations.invitations.find((each) => each.id === invitationId);
  if (!invitation) {
    throw new ActionRefusedError('NOT_FOUND', `${invitationId} is not an invitation to this organization.`);
  }
  if (pendingAt([invitation], now).length === 0) {
    throw new ActionRefusedError('INVITATION_NOT_PENDING', `${invitationId} has expired.`);
  }
  return invitation;
}

/** One requested invitation's fate before any write: to be sent, or refused with a code. */
export type InvitationVerdict =
  | { email: string; role: string; send: true }
  | { email: string; role: string; send: false; code: ActionRefusal; message: string };

/**
 * Each invitation checked against the roster (already a member), the pending invitations (already invited) and the
 * seats left, in the order asked: once the seats are taken, the rest are refused.
 */
export function invitationVerdicts(
  requested: readonly { email: string; role: string }[],
  roster: Roster,
  invitations: PendingInvitations,
  now: number,
): InvitationVerdict[] {
  const memberEmails = new Set(
    roster.members.flatMap((member) => (member.email ? [emailKey(member.email)] : [])),
  );
  const invited = new Set(pendingAt(invitations.invitations, now).map((each) => emailKey(each.email)));
  let available = seatsOf(roster, invitations, now).available;
  return requested.map(({ email, role }) => {
    const key = emailKey(email);
    if (memberEmails.has(key)) {
      return { email, role, send: false, code: 'ALREADY_MEMBER', message: 'Already a member.' };
    }
    if (invited.has(key)) {
      return { email, role, send: false, code: 'ALREADY_INVITED', message: 'Already invited.' };
    }
    if (available !== null) {
      if (available <= 0) {
        return {
          email,
          role,
          send: false,
          code: 'SEATS_EXHAUSTED',
          message: 'No seat left: members plus pending invitations reached the organization limit.',
        };
      }
      available--;
    }
    return { email, role, send: true };
  });
}
