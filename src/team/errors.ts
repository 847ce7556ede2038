/**
 * Failures of the team data source, in domain terms. The GraphQL layer turns them into error codes;
 * nothing here knows about GraphQL.
 */

/** Clerk does not know this organization (404). */
export class OrganizationNotFoundError extends Error {
  constructor(readonly organizationId: string) {
    super(`Organization ${organizationId} not found`);
    this.name = 'OrganizationNotFoundError';
  }
}

/** Clerk refused the call because of its rate limit (429). */
export class UpstreamRateLimitedError extends Error {
  constructor(readonly retryAfterSeconds: number | undefined) {
    super('Clerk rate limit reached');
    this.name = 'UpstreamRateLimitedError';
  }
}

/** Clerk failed, timed out, was unreachable, or answered something unusable. */
export class UpstreamUnavailableError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamUnavailableError';
  }
}
