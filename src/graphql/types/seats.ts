/** `Seats`: how many members and pending invitations an organization holds, against its limit. */
import type { Seats } from '../../actions/guards.js';
import { builder } from '../builder.js';

export const SeatsRef = builder.objectRef<Seats>('Seats').implement({
  description:
    "An organization's seats: members plus pending invitations may not exceed max (Clerk's max_allowed_memberships).",
  fields: (t) => ({
    members: t.exposeInt('members', { description: 'Active members.' }),
    pendingInvitations: t.exposeInt('pendingInvitations', {
      description: 'Pending invitations (expired ones are not counted).',
    }),
    max: t.exposeInt('max', { nullable: true, description: 'The limit; null when unlimited.' }),
    available: t.exposeInt('available', {
      nullable: true,
      description: 'Seats left for new invitations; null when unlimited.',
    }),
  }),
});
