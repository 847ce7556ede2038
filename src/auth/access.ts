/**
 * Who may read an organization: decided from the newest evidence, and never by reading the organization from
 * Clerk on behalf of someone not yet shown to belong to it.
 *
 * Evidence, each dated (by when its Clerk read began, or by the token's `iat`):
 * 1. the organization's roster, if the cache holds a fresh copy (within the TTL, not invalidated; never a stale
 *    one): free, and it reads nothing;
 * 2. the session token's active organization (v1 `org_id` / v2 `o.id`): free;
 * 3. the caller's own membership list (`GET /v1/users/{id}/organization_memberships`, cached per user): the only
 *    Clerk read ever made for a caller not yet shown to belong, and one per user per TTL, whatever they ask for.
 *
 * Against them: revocation records (a membership, user or organization deleted), and a fresh roster that does not
 * hold the caller. Evidence dated at or before the newest of these grants nothing. So once the webhook of a
 * removal has been answered, the removed member's old token, the roster and list read before it (also when served
 * stale during an outage) all stop counting, and only a membership list read afterwards can let them in again.
 *
 * Unknown organizations and non-members get the same FORBIDDEN, after the same work: nothing about the asked-for
 * organization is read from Clerk either way.
 *
 * A replica that cannot hear the other replicas (several replicas, Redis paused, down or refusing us) may have
 * missed a removal: the revocation records then also void evidence read from Clerk before a date they are told by
 * the bus's owner, and every token claim (src/team/revocations.ts, `unconfirmedUpTo`). Here that only means the
 * caller's membership list is read again when it is too old to count: the one read a caller already costs.
 *
 * Authorization reads only what it is given (the viewer, the revocation records, a team snapshot) and says no with
 * the domain errors of ./errors.ts: GraphQL's resolvers and the fast path's replays ask it alike.
 */

import type { CacheRead } from '../team/cache.js';
import { UpstreamUnavailableError } from '../team/errors.js';
import { ANY, type Revocations } from '../team/revocations.js';
import type { Roster, UserMembership, UserMemberships } from '../team/types.js';
import {
  AccessDeniedError,
  AuthenticationError,
  InvalidArgumentError,
  PermissionDeniedError,
} from './errors.js';
import type { Viewer } from './viewer.js';

/** Clerk organization IDs; anything else would be spliced into a Clerk URL path, so it is refused up front. */
const ORGANIZATION_ID = /^org_[A-Za-z0-9]{1,64}$/;

/** Clerk organization slugs (lowercase letters, digits, `-`, `_`); anything else names no organization. */
const ORGANIZATION_SLUG = /^[a-z0-9][a-z0-9_-]{0,255}$/;

/**
 * Clerk dates tokens by its clock and we date everything else by ours: a token counts as newer than our evidence
 * only by more than this (Clerk's own default clock skew for tokens).
 */
export const CLAIM_CLOCK_SKEW_MS = 5000;

/** What let the caller in: also where the organization's own details can be had without another read. */
export type Evidence =
  | { kind: 'roster'; roster: CacheRead<Roster> }
  | { kind: 'claim' }
  | { kind: 'membership'; membership: UserMembership };

/**
 * The team reads authorization makes, from one request's snapshot (each answer is that request's for the rest of
 * it): GraphQL's per-request loaders, the fast path's replay snapshot.
 */
export interface TeamEvidence {
  /**
   * The request's roster snapshot if it already has one, else the cache's copy if it is fresh (which then becomes
   * the request's snapshot); undefined otherwise. Never reads Clerk: authorization looks here first.
   */
  peekRoster(organizationId: string): Promise<CacheRead<Roster> | undefined>;
  /** A user's own membership list (in practice only the caller's). */
  userMemberships(userId: string): Promise<CacheRead<UserMemberships>>;
  /**
   * The list from a Clerk read begun after the request arrived, and after `since` (epoch ms) when given, made the
   * request's snapshot.
   */
  refreshUserMemberships(userId: string, since?: number): Promise<CacheRead<UserMemberships>>;
}

/** What authorization reads, and nothing else. */
export interface AccessInputs {
  /** The verified caller; null without a token. */
  viewer: Viewer | null;
  /** Removals recorded from webhooks (and what this replica cannot confirm). */
  revocations: Pick<Revocations, 'revokedAt'>;
  team: TeamEvidence;
}

export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) {
    throw new AuthenticationError(
      'missing',
      'Authentication required: send "Authorization: Bearer <Clerk session token>".',
    );
  }
  return viewer;
}

export async function authorizeOrganization(
  { viewer: caller, revocations, team }: AccessInputs,
  organizationId: string,
): Promise<Evidence> {
  const viewer = requireViewer(caller);
  if (!ORGANIZATION_ID.test(organizationId)) {
    throw new InvalidArgumentError('Expected a Clerk organization ID (org_…).', 'id');
  }
  const recorded = revocations.revokedAt(viewer.userId, organizationId);
  /** Evidence read from Clerk dated at or before this grants nothing (recorded removals, and what is unconfirmed). */
  const readVoidUpTo = revocations.revokedAt(viewer.userId, organizationId, 'read');
  let voidUpTo = readVoidUpTo;

  const roster = await team.peekRoster(organizationId);
  if (roster && roster.readStartedAt > voidUpTo) {
    if (roster.value.byUserId.has(viewer.userId)) return { kind: 'roster', roster };
    // Clerk's newer word says the caller is not in it: older claims and lists are outweighed.
    voidUpTo = Math.max(voidUpTo, roster.readStartedAt);
  }

  if (
    viewer.activeOrganizationId === organizationId &&
    viewer.issuedAt !== null &&
    viewer.issuedAt - CLAIM_CLOCK_SKEW_MS >
      Math.max(voidUpTo, revocations.revokedAt(viewer.userId, organizationId, 'claim'))
  ) {
    return { kind: 'claim' };
  }

  let memberships: CacheRead<UserMemberships>;
  try {
    memberships = await membershipsNewerThan(team, viewer.userId, readVoidUpTo, recorded);
  } catch (error) {
    // A recorded removal and no way to see a re-admission: the removal stands.
    if (recorded > 0) throw new AccessDeniedError(organizationId);
    throw error;
  }
  const membership = memberships.value.byOrganizationId.get(organizationId);
  if (membership && memberships.readStartedAt > voidUpTo) return { kind: 'membership', membership };
  throw new AccessDeniedError(organizationId);
}

/**
 * The caller's membership list; read from Clerk again when this replica cannot confirm it (older than `voidUpTo`
 * only because of what it may not have heard, not because of a recorded removal, which invalidated the list
 * already). A re-read that Clerk could not make (a stale copy served instead) is an error, not evidence.
 */
async function membershipsNewerThan(
  team: TeamEvidence,
  userId: string,
  voidUpTo: number,
  recorded: number,
): Promise<CacheRead<UserMemberships>> {
  const memberships = await team.userMemberships(userId);
  if (memberships.readStartedAt > voidUpTo || voidUpTo <= recorded) return memberships;
  const fresh = await team.refreshUserMemberships(userId, voidUpTo + 1);
  if (fresh.stale)
    throw new UpstreamUnavailableError('Clerk could not be read to confirm the membership', undefined);
  return fresh;
}

/** The caller's memberships as of the list, without organizations revoked since it was read. */
export async function currentMemberships({
  viewer: caller,
  revocations,
  team,
}: AccessInputs): Promise<UserMembership[]> {
  const viewer = requireViewer(caller);
  // What this replica cannot confirm applies to every organization alike: asked for any one of them.
  const { value, readStartedAt } = await membershipsNewerThan(
    team,
    viewer.userId,
    revocations.revokedAt(viewer.userId, ANY, 'read'),
    revocations.revokedAt(viewer.userId, ANY),
  );
  return value.memberships.filter(
    (membership) => revocations.revokedAt(viewer.userId, membership.organization.id, 'read') < readStartedAt,
  );
}

/**
 * An organization by its slug (what a team page's URL names), for the caller: looked up in their own membership
 * list (the read authorization makes anyway, and nothing else), then authorized exactly like its ID. A slug that
 * is not in the list, whether no organization has it or one the caller does not belong to, is the same
 * `AccessDeniedError`, after the same reads: slugs cannot be probed.
 */
export async function authorizeOrganizationSlug(
  access: AccessInputs,
  slug: string,
): Promise<{ organizationId: string; evidence: Evidence }> {
  requireViewer(access.viewer);
  if (!ORGANIZATION_SLUG.test(slug)) {
    throw new InvalidArgumentError(
      'Expected an organization slug: 1–256 lowercase letters, digits, "-" or "_".',
      'slug',
    );
  }
  const membership = (await currentMemberships(access)).find(
    (candidate) => candidate.organization.slug === slug,
  );
  // Not the slug: the error must not tell an unknown one from a foreign one.
  if (!membership) throw new AccessDeniedError('(by slug)');
  const organizationId = membership.organization.id;
  return { organizationId, evidence: await authorizeOrganization(access, organizationId) };
}

/**
 * Team actions: evidence read from Clerk at or before this (epoch ms) says nothing of the caller in the organization
 * (a recorded removal of theirs, or what this replica cannot confirm while it does not hear the other replicas).
 * Taken once, before the roster is read: a read begun after it counts, however long it took.
 */
export function rosterVoidUpTo(
  { viewer: caller, revocations }: Pick<AccessInputs, 'viewer' | 'revocations'>,
  organizationId: string,
): number {
  return revocations.revokedAt(requireViewer(caller).userId, organizationId, 'read');
}

/**
 * Team actions: the caller's permissions in an organization, from a roster read (not served stale) begun after
 * `voidUpTo` (`rosterVoidUpTo`, taken before the read) and after any removal of theirs recorded since. System
 * permissions such as `org:sys_memberships:manage` are never in Clerk's session tokens: only a membership says what
 * its member may do, and a demotion's or removal's webhook patches the roster, so write rights end with it. Call it
 * after `authorizeOrganization` (which decides membership without reading the organization for a non-member).
 * Throws `AccessDeniedError` when the roster does not hold the caller, `UpstreamUnavailableError` when it is stale
 * or too old to count (the caller reads it again first).
 */
export function permissionsInRoster(
  { viewer: caller, revocations }: Pick<AccessInputs, 'viewer' | 'revocations'>,
  organizationId: string,
  roster: CacheRead<Roster>,
  voidUpTo: number,
): readonly string[] {
  const viewer = requireViewer(caller);
  const floor = Math.max(voidUpTo, revocations.revokedAt(viewer.userId, organizationId));
  if (roster.stale || roster.readStartedAt <= floor) {
    throw new UpstreamUnavailableError('Clerk could not be read to confirm your permissions', undefined);
  }
  const member = roster.value.byUserId.get(viewer.userId);
  if (!member) throw new AccessDeniedError(organizationId);
  return member.permissions;
}

/** Refuses (FORBIDDEN) a member whose permissions lack `permission`. */
export function requirePermission(
  permissions: readonly string[],
  permission: string,
  organizationId: string,
): void {
  if (!permissions.includes(permission)) throw new PermissionDeniedError(organizationId, permission);
}
