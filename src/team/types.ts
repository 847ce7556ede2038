/**
 * The team domain in our own names. Clerk's shapes stop at the Clerk source; everything else sees these.
 * Timestamps are RFC 3339 strings, formatted once when read from Clerk: a cache hit then serves them as they are
 * (formatting 20 dates per answer was a measurable share of a hit's cost).
 */

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
  /** When the user joined the organization (RFC 3339). */
  createdAt: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  status: string;
  /** RFC 3339. */
  createdAt: string;
}

/** The whole active member list of one organization, as one consistent snapshot. */
export interface Roster {
  organizationId: string;
  /** Clerk's order: newest first. */
  members: readonly Member[];
  /** userId → member, for authorization checks and the user → organizations index. */
  byUserId: ReadonlyMap<string, Member>;
}

export interface PendingInvitations {
  organizationId: string;
  /** Clerk's order: newest first. */
  invitations: readonly Invitation[];
}

/** Where team data comes from (Clerk, through its SDK). */
export interface TeamSource {
  readRoster(organizationId: string): Promise<Roster>;
  readPendingInvitations(organizationId: string): Promise<PendingInvitations>;
}

export function createRoster(organizationId: string, members: readonly Member[]): Roster {
  return { organizationId, members, byUserId: new Map(members.map((member) => [member.userId, member])) };
}
