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
  /**
   * Set on a mutation sent with an `Idempotency-Key` that executes (src/graphql/plugins/use-idempotency-keys.ts);
   * absent otherwise.
   */
  idempotency?: {
    /** A retry of an attempt whose outcome is unknown: reconcile with Clerk before writing. */ retryOfUnknownOutcome: boolean /** The write's outcome is unknown (Clerk timed out): keep the key 'unknown' instead of storing this answer. */;
    markOutcomeUnknown(): void;
  };
}
