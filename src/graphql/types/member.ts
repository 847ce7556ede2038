/** `Member`: one active member of an organization. */
import type { Member } from '../../team/types.js';
import { builder } from '../builder.js';

export const MemberRef = builder.objectRef<Member>('Member').implement({
  description: 'An active member of an organization.',
  fields: (t) => ({
    membershipId: t.exposeID('membershipId'),
    userId: t.exposeID('userId'),
    firstName: t.exposeString('firstName', { nullable: true }),
    lastName: t.exposeString('lastName', { nullable: true }),
    email: t.exposeString('email', {
      nullable: true,
      description: "The member's primary identifier in Clerk, normally the email address.",
    }),
    imageUrl: t.exposeString('imageUrl', { nullable: true }),
    role: t.exposeString('role', {
      description: 'Clerk role key, e.g. org:admin, org:member, or a custom role.',
    }),
    createdAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the user joined the organization.',
    }),
  }),
});
