/** `Organization` and `Query.organization`: an organization's team, readable by its members only. */

import { seatsOf } from '../../actions/guards.js';
import {
  authorizeOrganization,
  authorizeOrganizationSlug,
  type Evidence,
  requireViewer,
} from '../../auth/access.js';
import type { OrganizationSummary } from '../../team/types.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { forbidden, toGraphQLError } from '../errors.js';
import { SeatsRef } from './seats.js';
import {
  memberQueryOf,
  pageArgs,
  pageFromRead,
  pageFromRoster,
  pageOf,
  TeamMembersRef,
} from './team-members.js';

export interface OrganizationShape {
  id: string;
  /** What authorized the caller; it usually carries the organization's details already. */
  evidence: Evidence;
  /** Worked out once per organization in the answer, however many of its fields are asked for. */
  summary?: Promise<OrganizationSummary>;
}

export const OrganizationRef = builder.objectRef<OrganizationShape>('Organization');

/** The smallest page: on a cold roster, answered by the roster read's first Clerk page like any first page. */
const HEAD = { limit: 1, offset: 0 };

/**
 * Name, slug and image from the organization object Clerk sends inside every membership: that of the membership
 * that let the caller in, or of the cached roster. Never a Clerk call of its own.
 */
function summaryOf(organization: OrganizationShape, context: GraphQLContext): Promise<OrganizationSummary> {
  organization.summary ??= (async () => {
    const { id, evidence } = organization;
    if (evidence.kind === 'membership') return evidence.membership.organization;
    try {
      // A cold roster's first page describes the organization as well as the whole roster does (no wait for it).
      const read =
        evidence.kind === 'roster' ? { roster: evidence.roster } : await context.team.rosterPage(id, HEAD);
      const viewer = requireViewer(context.viewer);
      const summary =
        (read.roster ? read.roster.value.organization : read.page.value.organization) ??
        (await context.team.userMemberships(viewer.userId)).value.byOrganizationId.get(id)?.organization;
      // Only a token claim that neither the roster nor the caller's own list bears out ends here.
      if (!summary) throw forbidden();
      return summary;
    } catch (error) {
      throw toGraphQLError(error);
    }
  })();
  return organization.summary;
}

OrganizationRef.implement({
  description: 'A Clerk organization. Only its members may read it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.string({
      description: "The organization's name.",
      resolve: async (organization, _args, context) => (await summaryOf(organization, context)).name,
    }),
    slug: t.string({
      nullable: true,
      description: "The organization's URL-friendly identifier in Clerk.",
      resolve: async (organization, _args, context) => (await summaryOf(organization, context)).slug,
    }),
    imageUrl: t.string({
      nullable: true,
      description: "The organization's logo (Clerk serves a generated one when none was uploaded).",
      resolve: async (organization, _args, context) => (await summaryOf(organization, context)).imageUrl,
    }),
    seats: t.field({
      type: SeatsRef,
      description:
        'Members plus pending invitations against the organization’s limit: an invitation beyond it is refused ' +
        '(SEATS_EXHAUSTED). From the cached roster and invitations.',
      resolve: async ({ id }, _args, context) => {
        try {
          const [roster, invitations] = await Promise.all([
            context.team.roster(id),
            context.team.pendingInvitations(id),
          ]);
          return seatsOf(roster.value, invitations.value, Date.now());
        } catch (error) {
          throw toGraphQLError(error);
        }
      },
    }),
    viewerPermissions: t.stringList({
      description:
        "The caller's permissions in this organization, from their membership (e.g. org:sys_memberships:manage " +
        'allows the team actions). Not in session tokens: read from the cached roster.',
      resolve: async ({ id, evidence }, _args, context) => {
        try {
          const viewer = requireViewer(context.viewer);
          if (evidence.kind === 'membership') return [...evidence.membership.permissions];
          const roster = evidence.kind === 'roster' ? evidence.roster : await context.team.roster(id);
          return [...(roster.value.byUserId.get(viewer.userId)?.permissions ?? [])];
        } catch (error) {
          throw toGraphQLError(error);
        }
      },
    }),
    membersCount: t.int({
      description: 'How many active members the organization has.',
      // Counted from the roster this request reads for members anyway (through the cache), so it agrees with
      // members.totalCount; Clerk's own members_count is not in every answer. A cold roster: Clerk's total_count of
      // its first page (the call a cold members page makes anyway).
      resolve: async ({ id, evidence }, _args, context) => {
        try {
          const read =
            evidence.kind === 'roster'
              ? { roster: evidence.roster }
              : await context.team.rosterPage(id, HEAD);
          return read.roster ? read.roster.value.members.length : read.page.value.totalCount;
        } catch (error) {
          throw toGraphQLError(error);
        }
      },
    }),
    members: t.field({
      type: TeamMembersRef,
      description:
        "The organization's active members (newest first unless orderBy says otherwise; search and roles narrow " +
        'them), and optionally its pending invitations. Search, roles and orderBy are answered from the cached ' +
        'roster (no Clerk call when it is warm); on a cold roster they wait for the whole roster to be read, while ' +
        'a plain page is answered from one Clerk page read.',
      args: {
        ...pageArgs,
        forceRefresh: t.arg.boolean({
          defaultValue: false,
          description:
            'Answer from a Clerk read that began after this request arrived, even if a cached copy is fresh (so a ' +
            'change made in Clerk just before shows, webhook or not). Concurrent forced requests share reads: at ' +
            'most one in flight and one queued per organization. If Clerk cannot be read in time, the cached copy ' +
            'is served with stale: true.',
        }),
      },
      resolve: async ({ id }, args, context) => {
        const page = pageOf(args);
        const query = memberQueryOf(args);
        const { team } = context;
        try {
          const [members, invitations] = await Promise.all([
            args.forceRefresh
              ? team.refreshRoster(id).then((roster) => pageFromRoster(roster, query, page))
              : query
                ? team.roster(id).then((roster) => pageFromRoster(roster, query, page))
                : team.rosterPage(id, page).then((read) => pageFromRead(read, page)),
            args.includePending
              ? args.forceRefresh
                ? team.refreshPendingInvitations(id)
                : team.pendingInvitations(id)
              : null,
          ]);
          return { organizationId: id, page: members, invitations };
        } catch (error) {
          throw toGraphQLError(error);
        }
      },
    }),
  }),
});

builder.queryField('organization', (t) =>
  t.field({
    type: OrganizationRef,
    description: 'The organization with this Clerk organization ID. Only its members may read it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => {
      try {
        return { id, evidence: await authorizeOrganization(context, id) };
      } catch (error) {
        throw toGraphQLError(error);
      }
    },
  }),
);

builder.queryField('organizationBySlug', (t) =>
  t.field({
    type: OrganizationRef,
    // Nullable as the contract has it, though never null: an unknown slug is FORBIDDEN, like a foreign one.
    nullable: true,
    description:
      "The same, by slug, resolved from the caller's own memberships. An unknown slug is FORBIDDEN, like one " +
      'the caller does not belong to.',
    args: { slug: t.arg.string({ required: true }) },
    resolve: async (_root, { slug }, context) => {
      try {
        const { organizationId, evidence } = await authorizeOrganizationSlug(context, slug);
        return { id: organizationId, evidence };
      } catch (error) {
        throw toGraphQLError(error);
      }
    },
  }),
);
