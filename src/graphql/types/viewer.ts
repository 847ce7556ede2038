/** `Viewer` and `Query.viewer`: who the caller is, from the verified session token. */

import { currentMemberships, requireViewer } from '../../auth/access.js';
import type { Viewer } from '../../auth/viewer.js';
import { builder } from '../builder.js';
import { toGraphQLError } from '../errors.js';
import { ViewerOrganizationRef } from './viewer-organization.js';

export const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description: 'The caller, as told by their verified Clerk session token.',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    activeOrganizationId: t.exposeID('activeOrganizationId', { nullable: true }),
    activeOrganizationRole: t.exposeString('activeOrganizationRole', { nullable: true }),
    organizations: t.field({
      type: [ViewerOrganizationRef],
      description:
        'Every organization the caller belongs to, newest membership first, from their Clerk membership list ' +
        '(cached; the same read that authorizes them for organizations their token does not name).',
      resolve: async (_viewer, _args, context) => {
        try {
          return await currentMemberships(context);
        } catch (error) {
          throw toGraphQLError(error);
        }
      },
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'Who the caller is, from the verified session token.',
    resolve: (_root, _args, context) => {
      try {
        return requireViewer(context.viewer);
      } catch (error) {
        throw toGraphQLError(error);
      }
    },
  }),
);
