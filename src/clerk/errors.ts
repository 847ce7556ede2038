/**
 * Clerk SDK errors in domain terms (src/team/errors.ts), the one translation every Clerk call makes before its
 * error reaches the call policy, which decides from them whether to retry, pause the route or open its breaker.
 */
import { isClerkAPIResponseError } from '@clerk/backend/errors';
import {
  OrganizationNotFoundError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
} from '../team/errors.js';

export interface ClerkErrorOptions {
  /**
   * The organization the call is about: a 404 then means Clerk does not know it (`OrganizationNotFoundError`).
   * Without it a 404 is only Clerk failing to answer (the JWKS, say).
   * @default none
   */
  organizationId?: string;
  /**
   * What was asked, to start the message of a failure.
   * @default 'Clerk request'
   */
  request?: string;
}

export function toDomainError(error: unknown, options: ClerkErrorOptions = {}): Error {
  const { organizationId, request = 'Clerk request' } = options;
  if (isClerkAPIResponseError(error)) {
    if (error.status === 404 && organizationId !== undefined) {
      return new OrganizationNotFoundError(organizationId);
    }
    if (error.status === 429) return new UpstreamRateLimitedError(error.retryAfter);
    // The SDK reports network failures and unparseable bodies as errors without a status.
    const message = `${request} failed (${error.status ?? 'no response'})`;
    return new UpstreamUnavailableError(message, error.status, { cause: error });
  }
  return new UpstreamUnavailableError(`${request} failed`, undefined, { cause: error });
}
