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

// Calls the Clerk call policy (src/clerk/upstream.ts) refused without asking Clerk. They are the domain errors
// callers already handle (a refusal is `RATE_LIMITED` or `UPSTREAM_UNAVAILABLE` to a client, and a cached copy may
// be served instead), with a mark saying why, for callers and logs that care.

/**
 * Why a call was not made:
 * - `queue_full`: the queue already holds `maxQueue` calls;
 * - `caller_limit`: this caller already has `maxPerCaller` calls waiting or under way;
 * - `deadline`: the call could not start before its deadline (refused at once, or dropped from the queue);
 * - `circuit_open`: the route's circuit breaker is open;
 * - `abandoned`: the caller's signal aborted while the call was waiting;
 * - `shutdown`: the policy was closed.
 */
export type RefusalReason =
  | 'queue_full'
  | 'caller_limit'
  | 'deadline'
  | 'circuit_open'
  | 'abandoned'
  | 'shutdown';

/** Refused by our own budget, queue or fairness rules, never sent: to the client, `RATE_LIMITED`. */
export class UpstreamRefusedError extends UpstreamRateLimitedError {
  constructor(
    readonly reason: 'queue_full' | 'caller_limit' | 'deadline',
    retryAfterSeconds: number,
  ) {
    super(retryAfterSeconds);
    this.name = 'UpstreamRefusedError';
    this.message = `Clerk call not made (${reason.replace('_', ' ')}); retry in ${retryAfterSeconds} s`;
  }
}

/** The route's circuit breaker is open: Clerk has been failing and is not asked again until the cooldown passes. */
export class CircuitOpenError extends UpstreamUnavailableError {
  /** Lets callers tell "breaker open" from a failed call without importing this class. */
  readonly circuitOpen = true;

  constructor(
    readonly route: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `Clerk is failing on ${route}; not called again for ${retryAfterSeconds} s (circuit open)`,
      undefined,
    );
    this.name = 'CircuitOpenError';
  }
}

/**
 * Why a team action is refused, decided from the cache before any write or told by Clerk when the cache was
 * behind (./../clerk/writes.ts maps Clerk's error codes to these). The GraphQL layer shows the code as is.
 */
export type ActionRefusal =
  | 'LAST_ADMIN'
  | 'SEATS_EXHAUSTED'
  | 'ALREADY_MEMBER'
  | 'ALREADY_INVITED'
  | 'NOT_FOUND'
  | 'INVITATION_NOT_PENDING'
  /** Clerk does not know the role (its role set changed since we cached it). */
  | 'UNKNOWN_ROLE';

export class ActionRefusedError extends Error {
  constructor(
    readonly code: ActionRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'ActionRefusedError';
  }
}

/**
 * A Clerk write that got no answer (it timed out, the connection broke, Clerk answered 5xx): it may or may not have
 * happened. Never retried blindly; a retry with the same idempotency key reconciles with Clerk first.
 */
export class WriteOutcomeUnknownError extends UpstreamUnavailableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, undefined, options);
    this.name = 'WriteOutcomeUnknownError';
  }
}
