/**
 * Reads team data from Clerk with the official SDK and maps it to our own types. This is the only module that
 * sees Clerk's resource classes; errors leave it as domain errors (./errors.ts translates them).
 */
import type { ClerkClient } from '@clerk/backend';
import { OrganizationNotFoundError } from '../team/errors.js';
import { internPermissions } from '../team/permissions.js';
import {
  createRoster,
  createUserMemberships,
  type Invitation,
  type Member,
  type OrganizationSummary,
  type PendingInvitations,
  ROSTER_PAGE_SIZE,
  type RosterPage,
  type SourceRead,
  type TeamSource,
  type UserMembership,
} from '../team/types.js';
import { toDomainError } from './errors.js';
import type { Upstream, UpstreamRoute } from './upstream.js';

/** Clerk's largest page; fewer round trips per roster. */
const PAGE_SIZE = ROSTER_PAGE_SIZE;
/** Pages after the first are read concurrently, a few at a time, so a 10,000-member roster is not 20 round trips. */
const PAGE_CONCURRENCY = 4;

type OrganizationApi = ClerkClient['organizations'];
type MembershipPage = Awaited<ReturnType<OrganizationApi['getOrganizationMembershipList']>>;
type ClerkMembership = MembershipPage['data'][number];
type ClerkInvitation = Awaited<ReturnType<OrganizationApi['getOrganizationInvitationList']>>['data'][number];

export interface ClerkSourceOptions {
  clerk: Pick<ClerkClient, 'organizations' | 'users'>;
  /** Budget, timeout, retries and 429 handling for every call. */
  upstream: Upstream;
}

export function createClerkSource({ clerk, upstream }: ClerkSourceOptions): TeamSource {
  /** One Clerk call of a read: through the upstream policy with the read's options, reported when it is sent. */
  const call = <T>(
    route: UpstreamRoute,
    organizationId: string,
    read: SourceRead,
    signal: AbortSignal,
    request: () => Promise<T>,
  ): Promise<T> =>
    upstream.run(
      route,
      () => {
        read.onCall?.();
        return request().catch((error: unknown) => {
          throw toDomainError(error, { organizationId });
        });
      },
      { deadline: read.deadline, priority: read.priority, caller: read.caller, signal },
    );

  /**
   * Runs a read of several pages with one signal for all of them: aborted when the cache gives the read up, or
   * when a page fails (the answer is lost anyway, so pages still waiting for the budget are not sent).
   */
  async function paged<T>(read: SourceRead, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const pages = new AbortController();
    // Linked by hand: AbortSignal.any() keeps every signal it makes reachable on Node 20 (about 1 KB a read).
    const giveUp = () => pages.abort(read.signal?.reason);
    if (read.signal?.aborted) giveUp();
    else read.signal?.addEventListener('abort', giveUp, { once: true });
    try {
      return await body(pages.signal);
    } catch (error) {
      pages.abort(error);
      throw error;
    } finally {
      read.signal?.removeEventListener('abort', giveUp);
    }
  }

  const readMembershipPage = (
    organizationId: string,
    offset: number,
    read: SourceRead,
    signal: AbortSignal,
    limit = PAGE_SIZE,
  ) =>
    call('memberships', organizationId, read, signal, () =>
      clerk.organizations.getOrganizationMembershipList({ organizationId, limit, offset }),
    );

  return {
    readRoster: (organizationId, read = {}) =>
      paged(read, async (signal) => {
        // The first page alone may answer a cold page (the cache waits for it), at its own priority.
        const headRead = {
          ...read,
          priority: read.headPriority ?? read.priority,
          caller: read.headCaller ?? read.caller,
        };
        const first = await readMembershipPage(organizationId, 0, headRead, signal);
        read.onHead?.(toRosterPage(organizationId, 0, first));
        const pages: ClerkMembership[][] = [first.data];
        const offsets: number[] = [];
        for (let offset = PAGE_SIZE; offset < first.totalCount; offset += PAGE_SIZE) offsets.push(offset);
        for (let i = 0; i < offsets.length; i += PAGE_CONCURRENCY) {
          const batch = offsets.slice(i, i + PAGE_CONCURRENCY);
          const results = await Promise.all(
            batch.map((offset) => readMembershipPage(organizationId, offset, read, signal)),
          );
          for (const page of results) pages.push(page.data);
        }
        const memberships = pages.flat();
        const organization = memberships[0] ? toOrganizationSummary(memberships[0]) : null;
        return createRoster(
          organizationId,
          dedupe(memberships.map(toMember).filter(isPresent)),
          organization,
        );
      }),

    readRosterPage: (organizationId, { limit, offset }, read = {}) =>
      paged(read, async (signal) =>
        toRosterPage(
          organizationId,
          offset,
          await readMembershipPage(organizationId, offset, read, signal, limit),
        ),
      ),

    readPendingInvitations: (organizationId, read = {}) =>
      paged(read, async (signal) => {
        const invitations: Invitation[] = [];
        for (let offset = 0; ; offset += PAGE_SIZE) {
          const page = await call('invitations', organizationId, read, signal, () =>
            clerk.organizations.getOrganizationInvitationList({
              organizationId,
              status: ['pending'],
              limit: PAGE_SIZE,
              offset,
            }),
          );
          invitations.push(...page.data.map(toInvitation));
          if (page.data.length < PAGE_SIZE || offset + PAGE_SIZE >= page.totalCount) break;
        }
        return { organizationId, invitations } satisfies PendingInvitations;
      }),

    readUserMemberships: (userId, read = {}) =>
      paged(read, async (signal) => {
        const memberships: UserMembership[] = [];
        try {
          // Users belong to a handful of organizations: one page nearly always, so pages are read one by one.
          for (let offset = 0; ; offset += PAGE_SIZE) {
            const page = await call('user_memberships', '', read, signal, () =>
              clerk.users.getOrganizationMembershipList({ userId, limit: PAGE_SIZE, offset }),
            );
            memberships.push(...page.data.map(toUserMembership));
            if (page.data.length < PAGE_SIZE || offset + PAGE_SIZE >= page.totalCount) break;
          }
        } catch (error) {
          // Clerk documents no 404 here; should one come (a deleted user), that user belongs nowhere.
          if (!(error instanceof OrganizationNotFoundError)) throw error;
          memberships.length = 0;
        }
        const seen = new Set<string>();
        return createUserMemberships(
          userId,
          memberships.filter((m) => !seen.has(m.membershipId) && seen.add(m.membershipId)),
        );
      }),
  };
}

/** One Clerk page in our types, mapped exactly as a whole roster's pages are (so a page equals its roster slice). */
function toRosterPage(organizationId: string, offset: number, page: MembershipPage): RosterPage {
  return {
    organizationId,
    offset,
    members: dedupe(page.data.map(toMember).filter(isPresent)),
    totalCount: page.totalCount,
    organization: page.data[0] ? toOrganizationSummary(page.data[0]) : null,
  };
}

function toOrganizationSummary(membership: ClerkMembership): OrganizationSummary {
  const organization = membership.organization;
  return {
    id: organization.id,
    name: organization.name,
    slug: organization.slug || null,
    imageUrl: organization.imageUrl || null,
    membersCount: typeof organization.membersCount === 'number' ? organization.membersCount : null,
    maxAllowedMemberships: maxAllowedMemberships(organization.maxAllowedMemberships),
  };
}

function toUserMembership(membership: ClerkMembership): UserMembership {
  return {
    membershipId: membership.id,
    organization: toOrganizationSummary(membership),
    role: membership.role,
    permissions: internPermissions(membership.permissions ?? []),
    createdAt: new Date(membership.createdAt).toISOString(),
  };
}

function toMember(membership: ClerkMembership): Member | undefined {
  const user = membership.publicUserData;
  // A membership without public user data cannot be shown or authorized; Clerk always sends it in practice.
  if (!user?.userId) return undefined;
  return {
    membershipId: membership.id,
    userId: user.userId,
    firstName: user.firstName || null,
    lastName: user.lastName || null,
    email: user.identifier || null,
    imageUrl: user.imageUrl || null,
    role: membership.role,
    permissions: internPermissions(membership.permissions ?? []),
    createdAt: new Date(membership.createdAt).toISOString(),
    version: membership.updatedAt,
  };
}

function toInvitation(invitation: ClerkInvitation): Invitation {
  return {
    id: invitation.id,
    email: invitation.emailAddress,
    role: invitation.role,
    status: invitation.status ?? 'pending',
    createdAt: new Date(invitation.createdAt).toISOString(),
    expiresAt: timestampOrNull(invitation.expiresAt),
    version: invitation.updatedAt,
  };
}

/** Clerk's `max_allowed_memberships`: 0 (or nothing) means unlimited. */
export function maxAllowedMemberships(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** A Clerk timestamp (epoch ms) as RFC 3339; null when absent or not a time. */
export function timestampOrNull(value: unknown): string | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
    ? new Date(value).toISOString()
    : null;
}

/** Pages read while the roster changes can overlap; keep the first sighting of each membership. */
function dedupe(members: Member[]): Member[] {
  const seen = new Set<string>();
  return members.filter((member) => !seen.has(member.membershipId) && seen.add(member.membershipId));
}

function isPresent<T>(value: T | undefined): value is T {
  return value !== undefined;
}
