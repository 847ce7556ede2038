/**
 * `TeamMembers`: one page of an organization's team, from one snapshot of the cache; and the arguments every
 * `members` field takes (page, search, roles filter, order), checked once here.
 */
import type { CacheRead, PageRead } from '../../team/cache.js';
import { pendingAt } from '../../team/invitations.js';
import {
  DEFAULT_MEMBER_ORDER,
  type MemberOrder,
  type MemberQuery,
  queryMembers,
} from '../../team/roster-query.js';
import type { Member, PendingInvitations, Roster } from '../../team/types.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';
import { MemberRef } from './member.js';
import { PendingInvitationRef } from './pending-invitation.js';

/** The members of one page, and how many match in all: cut from a roster snapshot, or one Clerk page as it came. */
export interface MemberPage {
  members: readonly Member[];
  totalCount: number;
}

export interface TeamMembersShape {
  organizationId: string;
  page: CacheRead<MemberPage>;
  invitations: CacheRead<PendingInvitations> | null;
}

export const TeamMembersRef = builder.objectRef<TeamMembersShape>('TeamMembers').implement({
  description: "One page of an organization's team.",
  fields: (t) => ({
    organizationId: t.exposeID('organizationId'),
    fromCache: t.boolean({
      description: 'True when every part of this answer was served from the cache without waiting for Clerk.',
      resolve: ({ page, invitations }) => page.fromCache && (invitations?.fromCache ?? true),
    }),
    stale: t.boolean({
      description:
        'True when Clerk could not be read and an expired or invalidated copy was served instead (fromCache is then true).',
      resolve: ({ page, invitations }) => page.stale || (invitations?.stale ?? false),
    }),
    cachedAt: t.field({
      type: 'DateTime',
      description: 'When the served data was read from Clerk.',
      // With two parts, the older one bounds how fresh the answer is.
      resolve: ({ page, invitations }) =>
        Math.min(page.fetchedAt, invitations?.fetchedAt ?? Number.POSITIVE_INFINITY),
    }),
    members: t.field({
      type: [MemberRef],
      description:
        'The active members that match search and roles, in orderBy order (default: newest first), after offset and limit.',
      resolve: ({ page }) => page.value.members,
    }),
    totalCount: t.int({
      description:
        'How many active members match search and roles (all of them without those), regardless of limit and offset.',
      resolve: ({ page }) => page.value.totalCount,
    }),
    pendingInvitations: t.field({
      type: [PendingInvitationRef],
      nullable: true,
      description: 'Pending invitations (all of them); null unless includePending is true.',
      // Clerk sends no webhook when an invitation expires: a cached one past its expiry is dropped here.
      resolve: ({ invitations }) =>
        invitations ? pendingAt(invitations.value.invitations, Date.now()) : null,
    }),
  }),
});

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 500;
/** Longer searches match nobody's name or email anyway, and each costs a pass over the roster. */
export const MAX_SEARCH_LENGTH = 100;
/** Clerk role keys are short (`org:admin`); a list this long is a mistake or an attack. */
export const MAX_ROLES = 20;
export const MAX_ROLE_LENGTH = 64;

export const MemberOrderFieldRef = builder.enumType('MemberOrderField', {
  description: 'What members can be ordered by.',
  values: {
    JOINED_AT: { value: 'joinedAt', description: 'When the member joined the organization.' },
    NAME: {
      value: 'name',
      description: 'First and last name (accents and case ignored; members without one last).',
    },
    EMAIL: { value: 'email', description: 'Email address (case ignored; members without one last).' },
  } as const,
});

export const OrderDirectionRef = builder.enumType('OrderDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

export const MemberOrderRef = builder.inputType('MemberOrder', {
  description: 'An order of members. Ties are broken by join date (newest first), so pages never shuffle.',
  fields: (t) => ({
    field: t.field({ type: MemberOrderFieldRef, required: true }),
    direction: t.field({
      type: OrderDirectionRef,
      required: false,
      description: 'Default: DESC (newest first) for JOINED_AT, ASC (A to Z) for NAME and EMAIL.',
    }),
  }),
});

/** The page arguments of every `members` field (the query's and a live event's), declared once. */
export const pageArgs = builder.args((t) => ({
  limit: t.int({ defaultValue: DEFAULT_LIMIT, description: `How many members to return, 1–${MAX_LIMIT}.` }),
  offset: t.int({ defaultValue: 0, description: 'How many members to skip, ≥ 0.' }),
  includePending: t.boolean({ defaultValue: false, description: 'Also return pending invitations.' }),
  search: t.string({
    required: false,
    description:
      `Only members whose first name, last name or email contains this (case and accents ignored; at most ` +
      `${MAX_SEARCH_LENGTH} characters). Served from the cached roster: on a cold one, waits for the whole roster.`,
  }),
  roles: t.stringList({
    required: false,
    description: `Only members with one of these role keys (e.g. "org:admin"); 1–${MAX_ROLES} of them.`,
  }),
  orderBy: t.field({
    type: MemberOrderRef,
    required: false,
    description: "Default: join date, newest first (Clerk's order).",
  }),
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

/** Control characters, which no name or email holds (and NUL separates the fields a search looks in). */
const CONTROL = /\p{Cc}/u;

/** `search`, `roles` and `orderBy` checked; undefined when they ask for nothing but Clerk's own order. */
export function memberQueryOf(args: {
  search?: string | null;
  roles?: readonly string[] | null;
  orderBy?: { field: MemberOrder['field']; direction?: MemberOrder['direction'] | null } | null;
}): MemberQuery | undefined {
  const search = args.search?.trim() ?? '';
  if (search.length > MAX_SEARCH_LENGTH) {
    throw badUserInput(`search must be at most ${MAX_SEARCH_LENGTH} characters.`, 'search');
  }
  if (CONTROL.test(search)) throw badUserInput('search must not contain control characters.', 'search');
  const roles = args.roles ?? undefined;
  if (roles) {
    if (roles.length === 0 || roles.length > MAX_ROLES) {
      throw badUserInput(`roles must list 1 to ${MAX_ROLES} role keys (omit it for every role).`, 'roles');
    }
    for (const role of roles) {
      if (role.length === 0 || role.length > MAX_ROLE_LENGTH || /\s|\p{Cc}/u.test(role)) {
        throw badUserInput(
          `Each role must be a role key of 1–${MAX_ROLE_LENGTH} characters without spaces (e.g. "org:admin").`,
          'roles',
        );
      }
    }
  }
  const orderBy: MemberOrder | undefined = args.orderBy
    ? {
        field: args.orderBy.field,
        direction: args.orderBy.direction ?? (args.orderBy.field === 'joinedAt' ? 'desc' : 'asc'),
      }
    : undefined;
  const plainOrder =
    !orderBy ||
    (orderBy.field === DEFAULT_MEMBER_ORDER.field && orderBy.direction === DEFAULT_MEMBER_ORDER.direction);
  if (search === '' && !roles && plainOrder) return undefined;
  return { search, roles: roles ?? null, orderBy: orderBy ?? null };
}

/**
 * A page cut from a roster snapshot: the members that match, in the asked order; it carries the snapshot's dates.
 * On a big snapshot asked for the first time, resolves after the slices that prepare it (search index, order).
 */
export async function pageFromRoster(
  roster: CacheRead<Roster>,
  query: MemberQuery | undefined,
  { limit, offset }: { limit: number; offset: number },
): Promise<CacheRead<MemberPage>> {
  const matches = query ? await queryMembers(roster.value, query) : roster.value.members;
  return { ...roster, value: { members: matches.slice(offset, offset + limit), totalCount: matches.length } };
}

/** A page as the cache answered it: cut from the roster it served, or the Clerk page it read. */
export function pageFromRead(read: PageRead, page: { limit: number; offset: number }): CacheRead<MemberPage> {
  if (!read.roster) return read.page;
  const { members } = read.roster.value;
  return {
    ...read.roster,
    value: { members: members.slice(page.offset, page.offset + page.limit), totalCount: members.length },
  };
}
