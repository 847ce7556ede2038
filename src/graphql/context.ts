import type { Viewer } from '../auth/viewer.js';
import type { Revocations } from '../team/revocations.js';
import type { TeamLoaders } from './loaders.js';

/** What every resolver gets: the verified caller (null without a token) and this request's team snapshot. */
export interface GraphQLContext {
  viewer: Viewer | null;
  team: TeamLoaders;
  /** Removals recorded from webhooks: evidence older than one applying to the caller grants nothing. */
  revocations: Pick<Revocations, 'revokedAt'>;
}
