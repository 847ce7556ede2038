/**
 * Reads Clerk's JWKS (`GET /v1/jwks`, the keys that sign session tokens) with the SDK, through the upstream policy
 * like every other Clerk call (route `jwks`: deadline, budget, breaker, 429s), with SDK errors translated to the
 * domain errors that policy understands. The JWKS is a standard format (RFC 7517), not a Clerk shape.
 */
import type { ClerkClient } from '@clerk/backend';
import { isClerkAPIResponseError } from '@clerk/backend/errors';
import { UpstreamRateLimitedError, UpstreamUnavailableError } from '../team/errors.js';
import type { CallOptions, Upstream } from './upstream.js';

export interface SigningKeys {
  keys?: readonly { kid?: string; kty?: string; alg?: string; use?: string; n?: string; e?: string }[];
}

export function createClerkKeyReader(options: {
  clerk: Pick<ClerkClient, 'jwks'>;
  upstream: Upstream;
}): (call: CallOptions) => Promise<SigningKeys> {
  const { clerk, upstream } = options;
  return (call) =>
    upstream.run(
      'jwks',
      () =>
        clerk.jwks.getJwks().catch((error: unknown) => {
          throw toDomainError(error);
        }),
      call,
    );
}

/** As the Clerk source translates its errors (a 404 here is no organization's absence: Clerk failed). */
function toDomainError(error: unknown): Error {
  if (isClerkAPIResponseError(error)) {
    if (error.status === 429) return new UpstreamRateLimitedError(error.retryAfter);
    return new UpstreamUnavailableError(
      `Clerk JWKS request failed (${error.status ?? 'no response'})`,
      error.status,
      {
        cause: error,
      },
    );
  }
  return new UpstreamUnavailableError('Clerk JWKS request failed', undefined, { cause: error });
}
