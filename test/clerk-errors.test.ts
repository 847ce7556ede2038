/** Clerk SDK errors in domain terms: one translation for every Clerk call, a 404 meaning what the call asked. */
import { ClerkAPIResponseError } from '@clerk/backend/errors';
import { describe, expect, it } from 'vitest';
import { toDomainError } from '../src/clerk/errors.js';
import {
  OrganizationNotFoundError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
} from '../src/team/errors.js';

const answered = (status: number, retryAfter?: number) =>
  new ClerkAPIResponseError('Clerk said no', { data: [], status, retryAfter });

describe('toDomainError', () => {
  it('a 404 about an organization is its absence; without one, Clerk failing', () => {
    const missing = toDomainError(answered(404), { organizationId: 'org_gone' });
    expect(missing).toBeInstanceOf(OrganizationNotFoundError);
    expect(missing).toMatchObject({ organizationId: 'org_gone' });
    const keys = toDomainError(answered(404), { request: 'Clerk JWKS request' });
    expect(keys).toBeInstanceOf(UpstreamUnavailableError);
    expect(keys).toMatchObject({ message: 'Clerk JWKS request failed (404)', status: 404 });
  });

  it("a 429 is Clerk's rate limit, with its Retry-After", () => {
    const limited = toDomainError(answered(429, 7), { organizationId: 'org_1' });
    expect(limited).toBeInstanceOf(UpstreamRateLimitedError);
    expect(limited).toMatchObject({ retryAfterSeconds: 7 });
  });

  it('other statuses and errors that are not Clerk answers are Clerk failing, the cause kept', () => {
    const cause = answered(503);
    expect(toDomainError(cause, { organizationId: 'org_1' })).toMatchObject({
      message: 'Clerk request failed (503)',
      status: 503,
      cause,
    });
    const network = new TypeError('fetch failed');
    const failed = toDomainError(network);
    expect(failed).toBeInstanceOf(UpstreamUnavailableError);
    expect(failed).toMatchObject({ message: 'Clerk request failed', status: undefined, cause: network });
  });
});
