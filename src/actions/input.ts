/**
 * Team actions' arguments, checked before anything is read or written: a bad one refuses the whole mutation
 * (`InvalidArgumentError`, to the client `BAD_USER_INPUT`) and changes nothing. IDs are checked by shape, since
 * they are spliced into Clerk URL paths.
 */
import { InvalidArgumentError } from '../auth/errors.js';
import type { InvitationRequest } from '../team/writer.js';

/** More than a Team page sends at once; Clerk takes 10 per call, so this is 10 calls. */
export const MAX_INVITATIONS = 100;

const USER_ID = /^user_[A-Za-z0-9]{1,64}$/;
const INVITATION_ID = /^orginv_[A-Za-z0-9]{1,64}$/;
/** Clerk role keys: `org:admin`, custom `org:billing_manager`. */
const ROLE_KEY = /^[A-Za-z0-9:_-]{1,64}$/;
/** A practical address check (one @, a dot in the domain, no spaces); Clerk has the final word. */
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function userIdOf(value: string, argumentName = 'userId'): string {
  if (!USER_ID.test(value))
    throw new InvalidArgumentError('Expected a Clerk user ID (user_…).', argumentName);
  return value;
}

export function invitationIdOf(value: string): string {
  if (!INVITATION_ID.test(value)) {
    throw new InvalidArgumentError('Expected a Clerk organization invitation ID (orginv_…).', 'invitationId');
  }
  return value;
}

export function roleKeyOf(value: string, argumentName = 'role'): string {
  if (!ROLE_KEY.test(value)) throw new InvalidArgumentError(`"${value}" is not a role key.`, argumentName);
  return value;
}

export function expiresInDaysOf(value: number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > 365) {
    throw new InvalidArgumentError('expiresInDays must be a whole number of days, 1–365.', 'expiresInDays');
  }
  return value;
}

export function redirectUrlOf(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = value.length <= 2048 ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new InvalidArgumentError('redirectUrl must be an absolute http(s) URL.', 'redirectUrl');
  }
  return value;
}

/** Email addresses compare case-insensitively (as Clerk's do). */
export const emailKey = (email: string) => email.trim().toLowerCase();

/**
 * 1–`MAX_INVITATIONS` invitations with well-formed addresses and role keys; one address asked twice collapses into
 * one (asked with two roles, it is refused: which one was meant?).
 */
export function invitationsOf(invitations: readonly InvitationRequest[]): InvitationRequest[] {
  if (invitations.length === 0 || invitations.length > MAX_INVITATIONS) {
    throw new InvalidArgumentError(`Send 1–${MAX_INVITATIONS} invitations at a time.`, 'invitations');
  }
  const byEmail = new Map<string, InvitationRequest>();
  for (const [index, { email, role }] of invitations.entries()) {
    const address = email.trim();
    if (address.length > 254 || !EMAIL.test(address)) {
      throw new InvalidArgumentError(`invitations[${index}].email is not an email address.`, 'invitations');
    }
    roleKeyOf(role, 'invitations');
    const key = emailKey(address);
    const earlier = byEmail.get(key);
    if (earlier && earlier.role !== role) {
      throw new InvalidArgumentError(
        `invitations[${index}].email is also asked for with another role.`,
        'invitations',
      );
    }
    if (!earlier) byEmail.set(key, { email: address, role });
  }
  return [...byEmail.values()];
}
