/**
 * Reads Clerk's JWKS (`GET /v1/jwks`, the keys that sign session tokens) with the SDK, through the upstream policy
 * like every other Clerk call (route `jwks`: deadline, budget, breaker, 429s), with SDK errors translated to the
 * domain errors that policy understands. The JWKS is a standard format (RFC 7517), not a Clerk shape.
 */
import type { ClerkClient } from '@clerk/backend';
import { toDomainError } from './errors.js';
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
          // No organization here: a 404 is Clerk failing, like any other status.
          throw toDomainError(error, { request: 'Clerk JWKS request' });
        }),
      call,
    );
}
