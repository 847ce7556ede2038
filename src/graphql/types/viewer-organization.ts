/** `ViewerOrganization`: one organization the caller belongs to, for an organization switcher. */
import type { UserMembership } from '../../team/types.js';
import { builder } from '../builder.js';

export const ViewerOrganizationRef = builder.objectRef<UserMembership>('ViewerOrganization').implement({
  description:
    'An organization the caller belongs to, from their own membership list (one cached Clerk read for all of them).',
  fields: (t) => ({
    id: t.id({ resolve: (membership) => membership.organization.id }),
    name: t.string({ resolve: (membership) => membership.organization.name }),
    slug: t.string({ nullable: true, resolve: (membership) => membership.organization.slug }),
    imageUrl: t.string({ nullable: true, resolve: (membership) => membership.organization.imageUrl }),
    role: t.exposeString('role', {
      description: "The caller's role in it: a Clerk role key, e.g. org:admin, org:member, or a custom role.",
    }),
    membersCount: t.int({
      nullable: true,
      description:
        "Clerk's count of its members, as of the membership list; null when Clerk did not send one.",
      resolve: (membership) => membership.organization.membersCount,
    }),
  }),
});
