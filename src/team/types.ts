/**
 * The team domain in our own names. Clerk's shapes stop at the Clerk source; everything else sees these.
 * Timestamps are RFC 3339 strings, formatted once when read from Clerk: a cache hit then serves them as they are
 * (formatting 20 dates per answer was a measurable share of a hit's cost).
 */
/**
 * How urgent a Clerk read is: `interactive` (someone waits for it) or `background` (a re-read nobody waits for,
 * e.g. refresh-ahead, or the rest of a roster behind a cold page): background calls wait behind interactive ones.
 */
export type Priority = 'interactive' | 'background';

/** Clerk's largest page: a roster read's first page holds the first this many members (and answers pages in them). */
export const ROSTER_PAGE_SIZE = 500;

export interface Member {
  membershipId: string;
  userId: string;
  firstName: string | null;
  lastName: string | null;
  /** The user's primary identifier in Clerk, normally the email address. */
  email: string | null;
  imageUrl: string | null;
  /** Clerk role key, e.g. `org:admin`. */
  role: string;
  /**
   * The membership's permissions as Clerk lists them (its role's, e.g. `org:sys_memberships:manage`): what team
   * actions are authorized from. One shared frozen array per distinct set (./permissions.ts `internPermissions`).
   */
  permissions: readonly string[];
  /** When the user joined the organization (RFC 3339). */
  createdAt: string;
  /** Clerk's `updated_at` (ms) of the membership it was built from: a webhook patch applies only if newer. */
  version?: number;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  status: string;
  /** RFC 3339. */
  createdAt: string;
  /**
   * When it expires (RFC 3339); null when Clerk sent none. Clerk sends no webhook when an invitation expires: a
   * listed one past this is no longer pending (./invitations.ts `isPending`).
   */
  expiresAt: string | null;
  /** Clerk's `updated_at` (ms) of the invitation it was built from: a webhook patch applies only if newer. */
  version?: number;
}

/**
 * An organization itself, as Clerk describes it inside every membership it sends (so knowing it costs no call of
 * its own).
 */
export interface OrganizationSummary {
  id: string;
  name: string;
  slug: string | null;
  imageUrl: string | null;
  /** Clerk's `members_count`; null when Clerk left it out (it adds it to some answers only). */
  membersCount: number | null;
  /**
   * Clerk's `max_allowed_memberships`: how many members plus pending invitations the organization may hold; null
   * when unlimited (Clerk's 0) or not sent.
   */
  maxAllowedMemberships: number | null;
}

/** The whole active member list of one organization, as one consistent snapshot. */
export interface Roster {
  organizationId: string;
  /** Clerk's order: newest first. */
  members: readonly Member[];
  /** userId → member, for authorization checks and the user → organizations index. */
  byUserId: ReadonlyMap<string, Member>;
  /** The organization as the first membership read described it; null for an empty roster. */
  organization: OrganizationSummary | null;
}

/** One of a user's own memberships. */
export interface UserMembership {
  membershipId: string;
  organization: OrganizationSummary;
  /** Clerk role key, e.g. `org:admin`. */
  role: string;
  /** The membership's permissions (shared arrays, as `Member.permissions`). */
  permissions: readonly string[];
  /** When the user joined the organization (RFC 3339). */
  createdAt: string;
}

/** Every organization one user belongs to (`GET /v1/users/{id}/organization_memberships`), as one snapshot. */
export interface UserMemberships {
  userId: string;
  /** Clerk's order: newest first. */
  memberships: readonly UserMembership[];
  /** organizationId → membership, for authorization checks and the organization → users index. */
  byOrganizationId: ReadonlyMap<string, UserMembership>;
}

export interface PendingInvitations {
  organizationId: string;
  /** Clerk's order: newest first. */
  invitations: readonly Invitation[];
}

/**
 * How the cache asks for one read: every Clerk call the read makes (each page) carries the same deadline,
 * priority, caller and signal (see `CallOptions` in ./upstream.ts).
 */
export interface SourceRead {
  /** Epoch ms by which the read's waiters need it. @default the upstream policy's */
  deadline?: number;
  /** @default 'interactive' */
  priority?: Priority;
  /** The fairness key: the user the read is made for. */
  caller?: string;
  /** Aborted when nobody waits for the read any more: calls still waiting are dropped, no further page is asked for. */
  signal?: AbortSignal;
  /**
   * A source **must** call this right before each Clerk call is actually sent (after any wait for the budget). The
   * first call dates the read, and tells the cache it has begun: until then an invalidation leaves the read alone
   * (it will see the change), forced callers may join it, and a background read may be re-queued as interactive.
   */
  onCall?(): void;
  /**
   * Rosters: the priority of the read's first Clerk page only, when it differs from `priority` (a cold page waits
   * for that page, the rest of the roster is background work). @default priority
   */
  headPriority?: Priority;
  /** Rosters: the fairness key of the first page only (the cold page's caller). @default caller */
  headCaller?: string;
  /** Rosters: called with the read's first Clerk page as soon as it arrives, before the rest is read. */
  onHead?(head: RosterPage): void;
  // --- Shared copies (several replicas, src/shared-state/): both optional, unused by the Clerk source. ---
  /**
   * Epoch ms: only a copy read from Clerk at or after this time may answer (set for `forceRefresh` reads). A source
   * that shares copies between replicas must not answer from an older one.
   */
  notBefore?: number;
  /**
   * A source that answers from a copy another replica read from Clerk calls this, instead of `onCall`, before
   * returning it, with the dates of that Clerk read: the entry keeps them (its TTL runs from the real read, and
   * authorization dates it by its real start) and callers are told `fromCache: true`. Returns false when the copy
   * must not be used (an invalidation reached this read first): the source then reads Clerk itself.
   */
  onSharedCopy?(copy: SharedCopy): boolean;
}

/** When a copy shared between replicas was read from Clerk (epoch ms). */
export interface SharedCopy {
  fetchedAt: number;
  readStartedAt: number;
}

/** One Clerk page of an organization's members (`limit`/`offset` as asked), and how many there are in all. */
export interface RosterPage {
  organizationId: string;
  /** Where the page starts in Clerk's order (newest first). */
  offset: number;
  members: readonly Member[];
  /** Clerk's `total_count`: every active member, whatever the page. */
  totalCount: number;
  organization: OrganizationSummary | null;
}

/** Where team data comes from (Clerk, through its SDK). */
export interface TeamSource {
  readRoster(organizationId: string, read?: SourceRead): Promise<Roster>;
  /** One page of the roster in one Clerk call (`limit` ≤ 500): what a cold page deeper than the first 500 costs. */
  readRosterPage(
    organizationId: string,
    page: { limit: number; offset: number },
    read?: SourceRead,
  ): Promise<RosterPage>;
  readPendingInvitations(organizationId: string, read?: SourceRead): Promise<PendingInvitations>;
  /** Every membership of one user; a user Clerk does not know has none. */
  readUserMemberships(userId: string, read?: SourceRead): Promise<UserMemberships>;
}

export function createRoster(
  organizationId: string,
  members: readonly Member[],
  organization: OrganizationSummary | null = null,
): Roster {
  return {
    organizationId,
    members,
    byUserId: new Map(members.map((member) => [member.userId, member])),
    organization,
  };
}

export function createUserMemberships(
  userId: string,
  memberships: readonly UserMembership[],
): UserMemberships {
  return {
    userId,
    memberships,
    byOrganizationId: new Map(memberships.map((membership) => [membership.organization.id, membership])),
  };
}
