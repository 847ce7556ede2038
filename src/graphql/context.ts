import type { ActionRequest, TeamActions } from '../actions/team-actions.js';
import type { AccessInputs } from '../auth/access.js';
import type { LiveStreams } from '../subscriptions/live-streams.js';
import type { TeamLoaders } from './loaders.js';

/**
 * What every resolver gets: authorization's inputs (the verified caller, null without a token; the revocation
 * records; this request's team snapshot, of which authorization reads a part), so a resolver hands it over as is.
 */
export interface GraphQLContext extends AccessInputs {
  team: TeamLoaders;
  /** Live subscriptions (`teamChanged`): this process's streams, and a new team snapshot for each event. */
  live: { streams: LiveStreams; snapshot(caller: string): TeamLoaders };
  /** When the caller's token expires (epoch ms; null without a token): a live stream never outlives it. */
  tokenExpiresAt(): number | null;
  /** Team actions (mutations). */
  actions: TeamActions;
  /** The request as actions see it: its ID, arrival and deadline. */
  requestInfo: Pick<ActionRequest, 'requestId' | 'requestedAt' | 'deadline'>;
  /**
   * After a write: the rest of the answer (the payload's `organization`) reads a new snapshot, which shows the
   * change, instead of the one authorization read before it.
   */
  renewTeamSnapshot(this: GraphQLContext): void;
  /** Set by the idempotency plugin for a mutation with an `Idempotency-Key`. */
  idempotency?: ActionRequest['idempotency'];
}
