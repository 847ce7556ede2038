/**
 * One row per kind of entry: everything that differs between a roster, pending invitations and a membership list,
 * so the rest of the cache is written once for all three.
 */
import { differences, emptyPatchState } from '../deltas.js';
import type { SourceRead, TeamSource } from '../types.js';
import type { CacheKind, EntryOf, OrganizationKind, PatchStateOf, ValueOf } from './types.js';

export interface Kind<K extends CacheKind> {
  /** The Clerk read (through the source) that fills it. */
  readFrom(source: TeamSource, id: string, request: SourceRead): Promise<ValueOf<K>>;
  /** Its weight in the size bound: its members, invitations or memberships (an empty one counts as one). */
  size(value: ValueOf<K>): number;
  /**
   * Rosters: the users it holds. They key the user → organizations index, and a roster read during which one of
   * them was invalidated is kept from the cache.
   */
  users?(value: ValueOf<K>): ReadonlyMap<string, unknown>;
  /** Membership lists: the organizations they hold, keying the organization → users index. */
  organizations?(value: ValueOf<K>): ReadonlyMap<string, unknown>;
  /**
   * Patched kinds: what a full read holds that the patched copy it replaces does not (and the reverse), by
   * membership or invitation ID (see `differences` in ../deltas.ts). Undefined when they agree.
   */
  differences?(read: ValueOf<K>, patched: ValueOf<K>): ReturnType<typeof differences>;
  /** A part of an organization: gone when Clerk says the organization is, and patched by webhooks. */
  organizationPart: boolean;
  /** The patch bookkeeping a full read starts with. */
  newPatchState(): PatchStateOf<K>;
}

export const KINDS: { readonly [K in CacheKind]: Kind<K> } = {
  members: {
    readFrom: (source, id, request) => source.readRoster(id, request),
    size: (roster) => roster.members.length,
    users: (roster) => roster.byUserId,
    differences: (read, patched) =>
      differences(read.members, patched.members, (member) => member.membershipId),
    organizationPart: true,
    newPatchState: emptyPatchState,
  },
  invitations: {
    readFrom: (source, id, request) => source.readPendingInvitations(id, request),
    size: (pending) => pending.invitations.length,
    differences: (read, patched) =>
      differences(read.invitations, patched.invitations, (invitation) => invitation.id),
    organizationPart: true,
    newPatchState: emptyPatchState,
  },
  user_memberships: {
    readFrom: (source, id, request) => source.readUserMemberships(id, request),
    size: (list) => list.memberships.length,
    organizations: (list) => list.byOrganizationId,
    organizationPart: false,
    newPatchState: () => undefined,
  },
};

export const ORGANIZATION_KINDS: readonly OrganizationKind[] = ['members', 'invitations'];

export const keyOf = (kind: CacheKind, id: string) => `${kind}:${id}`;

export const sizeOf = <K extends CacheKind>(entry: EntryOf<K>) =>
  Math.max(1, KINDS[entry.kind].size(entry.value));

/** When a stored value was read, and whether it was invalidated since. */
export interface Dates {
  fetchedAt: number;
  readStartedAt: number;
  invalidated: boolean;
}

/** Numbers every value made here, process-wide, never reused (`CacheRead.version`). */
let versions = 0;
/** A version no stored value has: for a value served beside the cache (a cold page). */
export const nextVersion = () => ++versions;

/**
 * The one place a stored value is made: by a full read (fresh patch bookkeeping) and by a patch (a new snapshot
 * keeping the read's dates and the bookkeeping it updated).
 */
export function newEntry<K extends CacheKind>(
  kind: K,
  id: string,
  value: ValueOf<K>,
  dates: Dates,
  patch: PatchStateOf<K> = KINDS[kind].newPatchState(),
): EntryOf<K> {
  return {
    kind,
    id,
    value,
    fetchedAt: dates.fetchedAt,
    readStartedAt: dates.readStartedAt,
    invalidated: dates.invalidated,
    patch,
    version: nextVersion(),
  };
}
