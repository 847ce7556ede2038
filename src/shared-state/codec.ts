/**
 * The compact encoding of second-level copies: JSON arrays of tuples, no field names (a member costs its values and
 * a few commas). JSON rather than msgpack: V8's JSON is fast, needs no dependency, and the copies stay readable in
 * `redis-cli`; field names were most of the size, and tuples remove them. Decoding checks the shape and turns
 * anything unexpected into a miss (a copy written by an incompatible version is read from Clerk instead).
 *
 * Envelope: `[FORMAT, fetchedAt, readStartedAt, payload]`.
 */
import type { CacheKind } from '../team/cache.js';
import { internPermissions } from '../team/permissions.js';
import {
  createRoster,
  createUserMemberships,
  type Invitation,
  type Member,
  type OrganizationSummary,
  type PendingInvitations,
  type Roster,
  type SharedCopy,
  type UserMemberships,
} from '../team/types.js';

/** Bump when a tuple changes: older copies then decode as misses. */
const FORMAT = 2;

export type CopyValue = Roster | PendingInvitations | UserMemberships;

export interface DecodedCopy extends SharedCopy {
  value: CopyValue;
}

type Nullable = string | null;
type OrganizationTuple = [string, string, Nullable, Nullable, number | null, number | null];

const organizationTuple = (o: OrganizationSummary): OrganizationTuple => [
  o.id,
  o.name,
  o.slug,
  o.imageUrl,
  o.membersCount,
  o.maxAllowedMemberships,
];
const fromOrganizationTuple = (t: OrganizationTuple): OrganizationSummary => ({
  id: t[0],
  name: t[1],
  slug: t[2],
  imageUrl: t[3],
  membersCount: t[4],
  maxAllowedMemberships: t[5],
});

export function encodeCopy(kind: CacheKind, value: CopyValue, copy: SharedCopy): string {
  let payload: unknown;
  if (kind === 'members') {
    const roster = value as Roster;
    payload = [
      roster.organization ? organizationTuple(roster.organization) : null,
      roster.members.map((m) => [
        m.membershipId,
        m.userId,
        m.firstName,
        m.lastName,
        m.email,
        m.imageUrl,
        m.role,
        m.createdAt,
        m.permissions,
      ]),
    ];
  } else if (kind === 'invitations') {
    payload = (value as PendingInvitations).invitations.map((i) => [
      i.id,
      i.email,
      i.role,
      i.status,
      i.createdAt,
      i.expiresAt,
    ]);
  } else {
    payload = (value as UserMemberships).memberships.map((m) => [
      m.membershipId,
      organizationTuple(m.organization),
      m.role,
      m.createdAt,
      m.permissions,
    ]);
  }
  return JSON.stringify([FORMAT, copy.fetchedAt, copy.readStartedAt, payload]);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNullable = (v: unknown): v is Nullable => v === null || typeof v === 'string';
const isTuple = (v: unknown, length: number): v is unknown[] => Array.isArray(v) && v.length === length;
const isCount = (v: unknown): v is number | null => v === null || typeof v === 'number';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isOrganization = (v: unknown): v is OrganizationTuple =>
  isTuple(v, 6) &&
  isString(v[0]) &&
  isString(v[1]) &&
  isNullable(v[2]) &&
  isNullable(v[3]) &&
  isCount(v[4]) &&
  isCount(v[5]);

/** The copy, or undefined when the text is not a copy of this kind in this format. */
export function decodeCopy(kind: CacheKind, id: string, text: string): DecodedCopy | undefined {
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isTuple(envelope, 4) || envelope[0] !== FORMAT) return undefined;
  const [, fetchedAt, readStartedAt, payload] = envelope;
  if (typeof fetchedAt !== 'number' || typeof readStartedAt !== 'number') return undefined;
  const value = decodePayload(kind, id, payload);
  return value ? { value, fetchedAt, readStartedAt } : undefined;
}

function decodePayload(kind: CacheKind, id: string, payload: unknown): CopyValue | undefined {
  if (kind === 'members') {
    if (
      !isTuple(payload, 2) ||
      !(payload[0] === null || isOrganization(payload[0])) ||
      !Array.isArray(payload[1])
    )
      return undefined;
    const members: Member[] = [];
    for (const t of payload[1] as unknown[]) {
      if (
        !isTuple(t, 9) ||
        !isString(t[0]) ||
        !isString(t[1]) ||
        !isString(t[6]) ||
        !isString(t[7]) ||
        !isStrings(t[8])
      )
        return undefined;
      if (!isNullable(t[2]) || !isNullable(t[3]) || !isNullable(t[4]) || !isNullable(t[5])) return undefined;
      members.push({
        membershipId: t[0],
        userId: t[1],
        firstName: t[2],
        lastName: t[3],
        email: t[4],
        imageUrl: t[5],
        role: t[6],
        permissions: internPermissions(t[8]),
        createdAt: t[7],
      });
    }
    return createRoster(id, members, payload[0] ? fromOrganizationTuple(payload[0]) : null);
  }
  if (!Array.isArray(payload)) return undefined;
  if (kind === 'invitations') {
    const invitations: Invitation[] = [];
    for (const t of payload as unknown[]) {
      if (!isTuple(t, 6) || !t.slice(0, 5).every(isString) || !isNullable(t[5])) return undefined;
      const [invitationId, email, role, status, createdAt] = t as string[];
      invitations.push({
        id: invitationId as string,
        email: email as string,
        role: role as string,
        status: status as string,
        createdAt: createdAt as string,
        expiresAt: t[5],
      });
    }
    return { organizationId: id, invitations };
  }
  const memberships = [];
  for (const t of payload as unknown[]) {
    if (
      !isTuple(t, 5) ||
      !isString(t[0]) ||
      !isOrganization(t[1]) ||
      !isString(t[2]) ||
      !isString(t[3]) ||
      !isStrings(t[4])
    )
      return undefined;
    memberships.push({
      membershipId: t[0],
      organization: fromOrganizationTuple(t[1]),
      role: t[2],
      permissions: internPermissions(t[4]),
      createdAt: t[3],
    });
  }
  return createUserMemberships(id, memberships);
}
