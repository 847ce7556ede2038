import type { Viewer } from '../auth/viewer.js';
import type { LiveStreams } from '../subscriptions/live-streams.js';
import type { Revocations } from '../team/revocations.js';
import type { TeamLoaders } from './loaders.js';

/** What every resolver gets: the verified caller (null without a token) and this request's team snapshot. */
export interface GraphQLContext {
  viewer: Viewer | null;
  team: TeamLoaders;
  /** Removals recorded from webhooks: evidence older than one applying to the caller grants nothing. */
  revocations: Pick<Revocations, 'revokedAt'>;
  /** Live subscriptions (`teamChanged`): this process's streams, and a new team snapshot for each event. */
  live: { streams: LiveStreams; snapshot(caller: string): TeamLoaders };
  /** When the caller's token expires (epoch ms; null without a token): a live stream never outlives it. */
  tokenExpiresAt(): number | null;
}
