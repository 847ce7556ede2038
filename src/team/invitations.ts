/**
 * When an invitation stops being pending without a webhook: Clerk sends none when an invitation expires, so a
 * listed invitation past its `expiresAt` is neither shown as pending nor counted as a seat.
 */
import type { Invitation } from './types.js';

export const isPending = (invitation: Invitation, now: number): boolean =>
  invitation.expiresAt === null || Date.parse(invitation.expiresAt) > now;

/** The invitations of a list still pending at `now`, in the list's order (the same array when all are). */
export function pendingAt(invitations: readonly Invitation[], now: number): readonly Invitation[] {
  return invitations.every((invitation) => isPending(invitation, now))
    ? invitations
    : invitations.filter((invitation) => isPending(invitation, now));
}
