/**
 * The setup most suites begin with: an organization in the emulator, its people, and session tokens to ask as one
 * of them. Everything is written straight into the emulator's store, so the server hears of none of it (no
 * webhooks): the organization is cold until a test asks for it.
 */
import { randomBytes } from 'node:crypto';
import type { ClerkEmulator, MintTokenOptions, OrganizationRecord } from '@team-graphql/clerk-emulator';

export interface TokenOptions {
  /** Whether the token names the organization as the session's active one. @default true */
  active?: boolean;
  /** Lifetime in seconds from `issuedAtS`. @default 3600: no test meets it unless it sets its own */
  expiresInS?: number;
  /** `iat` in seconds since the epoch. @default now */
  issuedAtS?: number;
  /** @default a new `sess_…` per token */
  sessionId?: string;
  /** @default 2, the emulator's */
  claimsVersion?: 1 | 2;
  /** The role the session claims. @default the user's role in the organization (the emulator's) */
  orgRole?: string;
}

export interface SeedTeamOptions {
  /** The organization's name (its slug is made unique by the emulator). @default `Team <6 hex digits>` */
  name?: string;
  /** Generated users who join as `org:admin`, first. @default 1 */
  admins?: number;
  /** Generated users who join as `org:member`, after the admins. @default 0 */
  members?: number;
  /** Users who exist already and join after the generated ones, in this order. @default none */
  join?: { userId: string; role?: string }[];
  /** Pending invitations, by email address (a count makes `invitee<i>@team.test` ones). @default none */
  invitations?: number | string[];
  /** What every token of this team is, unless `tokenFor` says otherwise. @default see {@link TokenOptions} */
  tokens?: TokenOptions;
}

export interface TeamPerson {
  userId: string;
  membershipId: string;
  role: string;
  /** A token with the team's `tokens` options, minted on first read (a roster of thousands costs no signing). */
  readonly token: string;
}

export interface SeededTeam {
  organizationId: string;
  /** The emulator's record of it (name, slug, image). */
  organization: OrganizationRecord;
  /** The first admin; throws when the team has none. */
  readonly admin: TeamPerson;
  admins: TeamPerson[];
  members: TeamPerson[];
  /** The members' user IDs, in order (not the admins' nor the joined users'). */
  memberIds: string[];
  /** The users of `join`, in that order. */
  joined: TeamPerson[];
  invitationIds: string[];
  /** A new token of `userId` (anyone, member or not), with the team's `tokens` options overridden by `options`. */
  tokenFor(userId: string, options?: TokenOptions): string;
}

/** The parts of an emulator the fixture writes to: the harness's and the replicas cluster's both fit. */
type SeedTarget = Pick<ClerkEmulator, 'store' | 'mintToken'>;

/** Makes an organization with `admins`, then `members`, then `join`, then `invitations`, and tokens for them. */
export function seedTeam(emulator: SeedTarget, options: SeedTeamOptions = {}): SeededTeam {
  const { store } = emulator;
  const organization = store.createOrganization({
    name: options.name ?? `Team ${randomBytes(3).toString('hex')}`,
  });
  const organizationId = organization.id;
  const defaults = options.tokens ?? {};
  const tokenFor = (userId: string, own: TokenOptions = {}): string => {
    const { active = true, expiresInS = 3600, ...rest } = { ...defaults, ...own };
    const mint: MintTokenOptions = { userId, expiresInS, ...rest };
    if (active) mint.orgId = organizationId;
    return emulator.mintToken(mint);
  };
  const person = (membership: { id: string; userId: string; role: string }): TeamPerson => {
    let token: string | undefined;
    return {
      userId: membership.userId,
      membershipId: membership.id,
      role: membership.role,
      get token() {
        token ??= tokenFor(membership.userId);
        return token;
      },
    };
  };

  const admins = options.admins ?? 1;
  const members = options.members ?? 0;
  const seededAdmins = admins > 0 ? store.populate(organizationId, admins, 'org:admin').map(person) : [];
  const seededMembers = members > 0 ? store.populate(organizationId, members, 'org:member').map(person) : [];
  const joined = (options.join ?? []).map(({ userId, role }) =>
    person(store.addMembership(organizationId, userId, role)),
  );
  const emails =
    typeof options.invitations === 'number'
      ? Array.from({ length: options.invitations }, (_, index) => `invitee${index}@team.test`)
      : (options.invitations ?? []);
  const invitationIds = emails.map(
    (emailAddress) => store.addInvitation(organizationId, { emailAddress }).id,
  );

  return {
    organizationId,
    organization,
    get admin() {
      const [first] = seededAdmins;
      if (!first) throw new Error('seedTeam: this team has no admin (admins: 0)');
      return first;
    },
    admins: seededAdmins,
    members: seededMembers,
    memberIds: seededMembers.map((member) => member.userId),
    joined,
    invitationIds,
    tokenFor,
  };
}
