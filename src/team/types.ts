/**
 * The team domain in our own names. Clerk's shapes stop at the Clerk source; everything else sees these.
 * Timestamps are epoch milliseconds (numbers are far cheaper to keep in the cache than Date objects).
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
  /** When the user joined the organization. */
  createdAt: number;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  status: string;
  createdAt: number;
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
