/** `PendingInvitation`: an invitation to an organization that is still open. */
import type { Invitation } from '../../team/types.js';
import { builder } from '../builder.js';

export const PendingInvitationRef = builder.objectRef<Invitation>('PendingInvitation').implement({
  description: 'An invitation to the organization that has not been accepted, revoked or expired yet.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    role: t.exposeString('role'),
    status: t.exposeString('status'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the invitation expires; from then on it is no longer listed nor counted as a seat.',
    }),
  }),
});
