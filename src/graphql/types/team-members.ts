/** `TeamMembers`: one page of an organization's team, from one snapshot of the cache. */
import type { CacheRead } from '../../team/cache.js';
import type { PendingInvitations, Roster } from '../../team/types.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';
import { MemberRef } from './member.js';
import { PendingInvitationRef } from './pending-invitation.js';

export interface TeamMembersShape {
  organizationId: string;
  roster: CacheRead<Roster>;
  invitations: CacheRead<PendingInvitations> | null;
  limit: number;
  offset: number;
}

export const TeamMembersRef = builder.objectRef<TeamMembersShape>('TeamMembers').implement({
  description: "One page of an organization's team.",
  fields: (t) => ({
    organizationId: t.exposeID('organizationId'),
    fromCache: t.boolean({
      description: 'True when every part of this answer was served from the cache without waiting for Clerk.',
      resolve: ({ roster, invitations }) => roster.fromCache && (invitations?.fromCache ?? true),
    }),
    stale: t.boolean({
      description:
        'True when Clerk could not be read and an expired or invalidated copy was served instead (fromCache is then true).',
      resolve: ({ roster, invitations }) => roster.stale || (invitations?.stale ?? false),
    }),
    cachedAt: t.field({
      type: 'DateTime',
      description: 'When the served data was read from Clerk.',
      // With two parts, the older one bounds how fresh the answer is.
      resolve: ({ roster, invitations }) =>
        Math.min(roster.fetchedAt, invitations?.fetchedAt ?? Number.POSITIVE_INFINITY),
    }),
    members: t.field({
      type: [MemberRef],
      description: "Active members in Clerk's order (newest first), after offset and limit.",
      resolve: ({ roster, limit, offset }) => roster.value.members.slice(offset, offset + limit),
    }),
    totalCount: t.int({
      description: 'All active members of the organization, regardless of limit and offset.',
      resolve: ({ roster }) => roster.value.members.length,
    }),
    pendingInvitations: t.field({
      type: [PendingInvitationRef],
      nullable: true,
      description: 'Pending invitations (all of them); null unless includePending is true.',
      resolve: ({ invitations }) => invitations?.value.invitations ?? null,
    }),
  }),
});

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 500;

/** The page arguments of every `members` field (the query's and a live event's), declared once. */
export const pageArgs = builder.args((t) => ({
  limit: t.int({ defaultValue: DEFAULT_LIMIT, description: `How many members to return, 1–${MAX_LIMIT}.` }),
  offset: t.int({ defaultValue: 0, description: 'How many members to skip, ≥ 0.' }),
  includePending: t.boolean({ defaultValue: false, description: 'Also return pending invitations.' }),
}));

/** `limit` and `offset` checked; an explicit null means "the default", as the field's signature suggests. */
export function pageOf(args: { limit?: number | null; offset?: number | null }): {
  limit: number;
  offset: number;
} {
  const limit = args.limit ?? DEFAULT_LIMIT;
  const offset = args.offset ?? 0;
  if (limit < 1 || limit > MAX_LIMIT) {
    throw badUserInput(`limit must be between 1 and ${MAX_LIMIT}, got ${limit}.`, 'limit');
  }
  if (offset < 0) throw badUserInput(`offset must be 0 or more, got ${offset}.`, 'offset');
  return { limit, offset };
}
