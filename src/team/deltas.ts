/**
 * Changes applied to a cached roster or invitation list without asking Clerk: what a webhook said, in our own
 * names (payload-independent), and how it applies. Pure: every function returns new immutable snapshots and the
 * caller's bookkeeping (`PatchState`) is the only thing it updates, so whoever holds an older snapshot keeps a
 * consistent view of it.
 *
 * Deliveries are at-least-once and unordered, so a change applies only if it is provably newer than what is held:
 *
 * - **Membership fields** (role, join date, which membership): each member carries Clerk's `updated_at` of the
 *   membership it was built from (`version`); an older or equal one is ignored.
 * - **Profile fields** (names, email, image) belong to the user, whose `updated_at` no membership payload carries.
 *   A member's profile is dated by `profileAt`: the user's `updated_at` (from `user.updated`), or the `updated_at`
 *   of the membership write that sent it (a lower bound: the data is at least that new), or, for a member built by
 *   a full read, the moment that read began.
 * - **Deletions leave a tombstone** (the membership or invitation ID; IDs are never reused): a late
 *   `created`/`updated` of it is ignored. Tombstones are bounded and live as long as the cached entry.
 * - **A `user.updated` for a user no cached roster holds yet** is remembered (bounded, by the cache): a membership
 *   of theirs delivered later takes the newer of its own profile and that one.
 * - **A member or invitation the snapshot does not hold** is added only if its write is newer than the full read
 *   the snapshot started from (older: that read saw Clerk after the write and did not find it, so it was removed).
 *
 * Comparing Clerk's timestamps with the moment our read began compares two clocks, so within `clockSkewMs` of it
 * the answer is `ambiguous`, as is anything else that cannot be decided (two memberships of one user joined in the
 * same millisecond, a profile dated the same millisecond by two sources): the caller then invalidates, as for a
 * change no payload can express.
 */
import { GONE, OverlayMap } from './overlay-map.js';
import type { Invitation, Member, PendingInvitations, Roster } from './types.js';

/** A membership as its webhook describes it, with everything a roster holds of it. */
export interface MemberUpsert {
  kind: 'memberUpsert';
  organizationId: string;
  /** With `version` set: Clerk's `updated_at` (ms) of the membership. */
  member: Member & { version: number };
}

export interface MemberRemoval {
  kind: 'memberRemoval';
  organizationId: string;
  membershipId: string;
  userId: string;
}

/** A user's public profile as every roster shows it (`user.updated`). */
export interface ProfileChange {
  kind: 'profile';
  userId: string;
  /** Clerk's `updated_at` (ms) of the user. */
  version: number;
  profile: Profile;
}

export interface InvitationUpsert {
  kind: 'invitationUpsert';
  organizationId: string;
  invitation: Invitation & { version: number };
}

/** Accepted or revoked: no longer pending. */
export interface InvitationRemoval {
  kind: 'invitationRemoval';
  organizationId: string;
  invitationId: string;
}

export type RosterDelta = MemberUpsert | MemberRemoval | ProfileChange;
export type InvitationDelta = InvitationUpsert | InvitationRemoval;
export type Delta = RosterDelta | InvitationDelta;

export type Profile = Pick<Member, 'firstName' | 'lastName' | 'email' | 'imageUrl'>;
const PROFILE_FIELDS = ['firstName', 'lastName', 'email', 'imageUrl'] as const;

/** How many tombstones one cached entry keeps (the oldest go first). */
export const MAX_TOMBSTONES = 10_000;

/** The bookkeeping of one cached entry's patches; starts empty with each full read. */
export interface PatchState {
  /** Deleted membership or invitation IDs, oldest first. */
  tombstones: Set<string>;
  /** Rosters: userId → when the member's profile is known as of (Clerk's ms); absent: as of the full read. */
  profileAt: Map<string, number>;
  /** Set once a patch changed the snapshot: its next full read is compared with it (drift). */
  patched: boolean;
}

export const emptyPatchState = (): PatchState => ({
  tombstones: new Set(),
  profileAt: new Map(),
  patched: false,
});

/** The full read the snapshot started from: when it began (our clock) and how far Clerk's clock may be off. */
export interface Base {
  readStartedAt: number;
  clockSkewMs: number;
}

export type Verdict<T> = { kind: 'patched'; value: T } | { kind: 'ignored' } | { kind: 'ambiguous' };
const IGNORED = { kind: 'ignored' } as const;
const AMBIGUOUS = { kind: 'ambiguous' } as const;

/** A write at Clerk time `at` vs the full read: 'older' (the read saw it), 'newer', or 'ambiguous'. */
function againstRead(at: number, base: Base): 'older' | 'newer' | 'ambiguous' {
  if (at < base.readStartedAt - base.clockSkewMs) return 'older';
  if (at >= base.readStartedAt + base.clockSkewMs) return 'newer';
  return 'ambiguous';
}

function bury(state: PatchState, id: string) {
  state.tombstones.delete(id);
  state.tombstones.add(id);
  if (state.tombstones.size > MAX_TOMBSTONES) {
    const oldest = state.tombstones.values().next().value;
    if (oldest !== undefined) state.tombstones.delete(oldest);
  }
}

const sameProfile = (a: Profile, b: Profile) => PROFILE_FIELDS.every((field) => a[field] === b[field]);
const profileOf = (member: Member): Profile => ({
  firstName: member.firstName,
  lastName: member.lastName,
  email: member.email,
  imageUrl: member.imageUrl,
});

/** Newest first by join date; among equal dates the later-added first (Clerk's order). */
function insertNewestFirst<T extends { createdAt: string }>(list: readonly T[], item: T): T[] {
  let index = 0;
  while (index < list.length && (list[index] as T).createdAt > item.createdAt) index++;
  return [...list.slice(0, index), item, ...list.slice(index)];
}

/**
 * The profile a member gets from a membership payload dated `at`, against the one held (dated by `profileAt`,
 * or by the full read). Undefined: cannot tell which is newer.
 */
function profileFor(
  held: Member | undefined,
  incoming: Member,
  at: number,
  state: PatchState,
): { profile: Profile; at: number } | undefined {
  const heldAt = held ? state.profileAt.get(held.userId) : undefined;
  // Held from a full read (or not held): this write came after that read saw the membership, so its data is newer.
  if (!held || heldAt === undefined || heldAt < at) return { profile: profileOf(incoming), at };
  if (heldAt > at || sameProfile(profileOf(held), profileOf(incoming)))
    return { profile: profileOf(held), at: heldAt };
  return undefined;
}

type DatedProfile = { profile: Profile; at: number };

/**
 * The newer of a membership payload's profile and the user's latest `user.updated` seen (which may have arrived
 * before the membership did, when no cached roster held the user yet). Undefined: same date, different data.
 */
function newest(candidate: DatedProfile, known: ProfileChange | undefined): DatedProfile | undefined {
  if (!known || known.version < candidate.at) return candidate;
  if (known.version > candidate.at) return { profile: known.profile, at: known.version };
  return sameProfile(candidate.profile, known.profile) ? candidate : undefined;
}

/** The next snapshot: these members, `byUserId` updated for the one user the patch touched. */
function withMembers(roster: Roster, members: Member[], userId: string, member: Member | undefined): Roster {
  return {
    organizationId: roster.organizationId,
    members,
    byUserId: OverlayMap.with(roster.byUserId, userId, member ?? GONE),
    organization: roster.organization,
  };
}

/** Applies one roster delta (never for another organization; a profile change for users the roster holds). */
export function applyToRoster(
  roster: Roster,
  state: PatchState,
  delta: RosterDelta,
  base: Base,
  /** For a member upsert: the latest `user.updated` of its user seen lately, if any. */
  known?: ProfileChange,
): Verdict<Roster> {
  switch (delta.kind) {
    case 'memberUpsert': {
      if (state.tombstones.has(delta.member.membershipId)) return IGNORED;
      const held = roster.byUserId.get(delta.member.userId);
      if (held && held.membershipId === delta.member.membershipId) {
        const incoming = delta.member;
        if (incoming.version <= (held.version ?? 0)) return IGNORED;
        const fromPayload = profileFor(held, incoming, incoming.version, state);
        const profile = fromPayload && newest(fromPayload, known);
        if (!profile) return AMBIGUOUS;
        const member: Member = { ...incoming, ...profile.profile };
        state.profileAt.set(member.userId, profile.at);
        const members =
          member.createdAt === held.createdAt
            ? roster.members.map((each) => (each === held ? member : each))
            : insertNewestFirst(
                roster.members.filter((each) => each !== held),
                member,
              );
        return { kind: 'patched', value: withMembers(roster, members, member.userId, member) };
      }
      const dated = newest({ profile: profileOf(delta.member), at: delta.member.version }, known);
      if (!dated) return AMBIGUOUS;
      const incoming: Member & { version: number } = { ...delta.member, ...dated.profile };
      if (held) {
        // Another membership of the same user: the later-joined one is current, the other was deleted.
        if (incoming.createdAt < held.createdAt) {
          bury(state, incoming.membershipId);
          return IGNORED;
        }
        if (incoming.createdAt === held.createdAt) return AMBIGUOUS;
        bury(state, held.membershipId);
        state.profileAt.set(incoming.userId, dated.at);
        const members = insertNewestFirst(
          roster.members.filter((each) => each !== held),
          incoming,
        );
        return { kind: 'patched', value: withMembers(roster, members, incoming.userId, incoming) };
      }
      const verdict = againstRead(incoming.version, base);
      if (verdict === 'older') return IGNORED;
      if (verdict === 'ambiguous') return AMBIGUOUS;
      state.profileAt.set(incoming.userId, dated.at);
      const members = insertNewestFirst(roster.members, incoming);
      return { kind: 'patched', value: withMembers(roster, members, incoming.userId, incoming) };
    }
    case 'memberRemoval': {
      bury(state, delta.membershipId);
      const held = roster.byUserId.get(delta.userId);
      if (held?.membershipId !== delta.membershipId) return IGNORED;
      state.profileAt.delete(delta.userId);
      return {
        kind: 'patched',
        value: withMembers(
          roster,
          roster.members.filter((each) => each !== held),
          delta.userId,
          undefined,
        ),
      };
    }
    case 'profile': {
      const held = roster.byUserId.get(delta.userId);
      if (!held) return IGNORED;
      const heldAt = state.profileAt.get(delta.userId);
      if (heldAt !== undefined ? delta.version < heldAt : againstRead(delta.version, base) === 'older')
        return IGNORED;
      if (sameProfile(profileOf(held), delta.profile)) {
        state.profileAt.set(delta.userId, Math.max(heldAt ?? delta.version, delta.version));
        return IGNORED;
      }
      if (heldAt !== undefined ? delta.version === heldAt : againstRead(delta.version, base) === 'ambiguous')
        return AMBIGUOUS;
      state.profileAt.set(delta.userId, delta.version);
      const member: Member = { ...held, ...delta.profile };
      return {
        kind: 'patched',
        value: withMembers(
          roster,
          roster.members.map((each) => (each === held ? member : each)),
          member.userId,
          member,
        ),
      };
    }
  }
}

/** Applies one invitation delta to the organization's pending invitations. */
export function applyToInvitations(
  pending: PendingInvitations,
  state: PatchState,
  delta: InvitationDelta,
  base: Base,
): Verdict<PendingInvitations> {
  const id = delta.kind === 'invitationUpsert' ? delta.invitation.id : delta.invitationId;
  const held = pending.invitations.find((each) => each.id === id);
  if (delta.kind === 'invitationRemoval') {
    bury(state, id);
    if (!held) return IGNORED;
    return {
      kind: 'patched',
      value: { ...pending, invitations: pending.invitations.filter((each) => each !== held) },
    };
  }
  const incoming = delta.invitation;
  if (state.tombstones.has(id) || incoming.status !== 'pending') return IGNORED;
  if (held) {
    if (incoming.version <= (held.version ?? 0)) return IGNORED;
    const rest = pending.invitations.filter((each) => each !== held);
    return { kind: 'patched', value: { ...pending, invitations: insertNewestFirst(rest, incoming) } };
  }
  const verdict = againstRead(incoming.version, base);
  if (verdict === 'older') return IGNORED;
  if (verdict === 'ambiguous') return AMBIGUOUS;
  return {
    kind: 'patched',
    value: { ...pending, invitations: insertNewestFirst(pending.invitations, incoming) },
  };
}

/** Field values compare by value; lists (permissions) element by element, as they are usually shared arrays. */
const sameValue = (a: unknown, b: unknown): boolean =>
  a === b ||
  (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((each, i) => each === b[i]));

/**
 * What differs between a full read and the patched copy it replaces, by membership or invitation ID and field
 * name (never values: they hold emails). Undefined when they agree.
 */
export function differences<T extends { createdAt: string }>(
  read: readonly T[],
  patched: readonly T[],
  idOf: (item: T) => string,
):
  | { missing: string[]; unexpected: string[]; changed: Record<string, string[]>; order: boolean }
  | undefined {
  const byId = new Map(patched.map((item) => [idOf(item), item]));
  const readIds = new Set(read.map(idOf));
  const missing = read.map(idOf).filter((id) => !byId.has(id));
  const unexpected = patched.map(idOf).filter((id) => !readIds.has(id));
  const changed: Record<string, string[]> = {};
  for (const item of read) {
    const other = byId.get(idOf(item));
    if (!other) continue;
    const keys = new Set([...Object.keys(item), ...Object.keys(other)]) as Set<keyof T & string>;
    const fields = [...keys].filter((key) => !sameValue(item[key], other[key]));
    if (fields.length > 0) changed[idOf(item)] = fields;
  }
  const order =
    missing.length === 0 &&
    unexpected.length === 0 &&
    read.some((item, index) => idOf(item) !== idOf(patched[index] as T));
  if (missing.length === 0 && unexpected.length === 0 && Object.keys(changed).length === 0 && !order)
    return undefined;
  return { missing, unexpected, changed, order };
}
