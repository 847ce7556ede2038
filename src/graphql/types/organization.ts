/** `Organization` and `Query.organization`: an organization's team, readable by its members only. */
import { authorizeOrganization } from '../access.js';
import { builder } from '../builder.js';
import { badUserInput, toGraphQLError } from '../errors.js';
import { TeamMembersRef } from './team-members.js';

export interface OrganizationShape {
  id: string;
}

export const OrganizationRef = builder.objectRef<OrganizationShape>('Organization');

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 500;

OrganizationRef.implement({
  description: 'A Clerk organization. Only its members may read it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    members: t.field({
      type: TeamMembersRef,
      description: "The organization's active members, newest first, and optionally its pending invitations.",
      args: {
        limit: t.arg.int({
          defaultValue: DEFAULT_LIMIT,
          description: `How many members to return, 1–${MAX_LIMIT}.`,
        }),
        offset: t.arg.int({ defaultValue: 0, description: 'How many members to skip, ≥ 0.' }),
        includePending: t.arg.boolean({
          defaultValue: false,
          description: 'Also return pending invitations.',
        }),
        forceRefresh: t.arg.boolean({
          defaultValue: false,
          description:
            'Read from Clerk even if a cached copy is fresh. Throttled: within a few seconds of a read of this ' +
            'organization, that read is served instead.',
        }),
      },
      resolve: async ({ id }, args, context) => {
        // An explicit null means "the default", as the field's signature suggests.
        const limit = args.limit ?? DEFAULT_LIMIT;
        const offset = args.offset ?? 0;
        if (limit < 1 || limit > MAX_LIMIT) {
          throw badUserInput(`limit must be between 1 and ${MAX_LIMIT}, got ${limit}.`, 'limit');
        }
        if (offset < 0) throw badUserInput(`offset must be 0 or more, got ${offset}.`, 'offset');
        const { team } = context;
        try {
          const [roster, invitations] = await Promise.all([
            args.forceRefresh ? team.refreshRoster(id) : team.roster(id),
            args.includePending
              ? args.forceRefresh
                ? team.refreshPendingInvitations(id)
                : team.pendingInvitations(id)
              : null,
          ]);
          return { organizationId: id, roster, invitations, limit, offset };
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
      await authorizeOrganization(context, id);
      return { id };
    },
  }),
);
