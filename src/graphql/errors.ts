/**
 * The error contract of the API: every error a client can act on carries `extensions.code`. Anything not
 * translated here is an internal error and stays masked by Yoga ("Unexpected error.").
 */
import { GraphQLError } from 'graphql';
import { WriteRateLimitedError } from '../actions/team-actions.js';
import {
  AccessDeniedError,
  AuthenticationError,
  InvalidArgumentError,
  KeySetUnavailableError,
  PermissionDeniedError,
} from '../auth/errors.js';
import {
  ActionRefusedError,
  OrganizationNotFoundError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
  WriteOutcomeUnknownError,
} from '../team/errors.js';

export type ErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'RATE_LIMITED'
  // Team actions' refusals (the change was not made; see docs/team-actions.md for what a frontend does on each).
  | 'LAST_ADMIN'
  | 'SEATS_EXHAUSTED'
  | 'ALREADY_MEMBER'
  | 'ALREADY_INVITED'
  | 'NOT_FOUND'
  | 'INVITATION_NOT_PENDING'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_USE';

/** Non-members and unknown organizations get the same answer, so IDs cannot be probed. */
export const FORBIDDEN_MESSAGE = 'You are not a member of this organization, or it does not exist.';

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: 'UNAUTHENTICATED',
      // Yoga turns this into the HTTP status and headers and strips it from the body.
      http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } },
    },
  });
}

export function forbidden(): GraphQLError {
  return new GraphQLError(FORBIDDEN_MESSAGE, { extensions: { code: 'FORBIDDEN' } });
}

/**
 * A request that is not a GraphQL request we can read (a body that is not JSON, an unsupported media type): an HTTP
 * error (4xx, whatever the client accepts) with a message of ours, never the parser's.
 */
export function badRequest(message: string, status = 400): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status } } });
}

export function badUserInput(message: string, argumentName: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', argumentName } });
}

/**
 * The refusals of a mutation sent with an `Idempotency-Key` (src/graphql/plugins/use-idempotency-keys.ts); none
 * executes anything. `header`: the request header at fault, as `argumentName` names an argument.
 */
export const idempotencyErrors = {
  /** The key is not 1 to 255 printable ASCII characters. */
  invalid: () =>
    new GraphQLError('The Idempotency-Key header must be 1 to 255 printable ASCII characters.', {
      extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, header: 'Idempotency-Key' },
    }),
  /** The same key came with another operation or variables: a client bug, never retry it as is. */
  reused: () =>
    new GraphQLError(
      'This Idempotency-Key was already used with another operation or variables: use a new key for a new request.',
      { extensions: { code: 'IDEMPOTENCY_KEY_REUSED' satisfies ErrorCode, header: 'Idempotency-Key' } },
    ),
  /** A request with this key is still running: retry with the same key (it then replays its answer). */
  inUse: () =>
    new GraphQLError(
      'A request with this Idempotency-Key is still being processed. Retry later with the same key.',
      { extensions: { code: 'IDEMPOTENCY_KEY_IN_USE' satisfies ErrorCode, header: 'Idempotency-Key' } },
    ),
  /** The keys' store (Redis) cannot be reached: running the mutation could run it twice. */
  unavailable: () =>
    new GraphQLError(
      'Idempotency keys cannot be checked right now, so the mutation was not run. Retry later with the same key.',
      { extensions: { code: 'UPSTREAM_UNAVAILABLE' satisfies ErrorCode, header: 'Idempotency-Key' } },
    ),
};

/** Translates domain failures into client-facing errors; unknown errors pass through to be masked. */
export function toGraphQLError(error: unknown): unknown {
  if (error instanceof GraphQLError) return error;
  if (error instanceof AuthenticationError) return unauthenticated(error.message);
  // Not a member and no such organization read the same, whoever found it out.
  if (error instanceof AccessDeniedError || error instanceof OrganizationNotFoundError) return forbidden();
  if (error instanceof InvalidArgumentError) return badUserInput(error.message, error.argumentName);
  if (error instanceof PermissionDeniedError) {
    return new GraphQLError(
      `Your role in this organization does not allow this (it needs ${error.permission}).`,
      { extensions: { code: 'FORBIDDEN', permission: error.permission } },
    );
  }
  if (error instanceof ActionRefusedError) {
    const code: ErrorCode = error.code === 'UNKNOWN_ROLE' ? 'BAD_USER_INPUT' : error.code;
    return new GraphQLError(error.message, { extensions: { code } });
  }
  if (error instanceof WriteRateLimitedError) {
    return new GraphQLError(`Too many changes (${error.limit}): retry in ${error.retryAfterSeconds} s.`, {
      extensions: { code: 'RATE_LIMITED', retryAfterSeconds: error.retryAfterSeconds, limit: error.limit },
    });
  }
  if (error instanceof WriteOutcomeUnknownError) {
    // Retrying with the same Idempotency-Key finds out what happened, and never writes twice.
    return new GraphQLError(
      'Clerk did not confirm the change: it may or may not have happened. Retry with the same Idempotency-Key.',
      { extensions: { code: 'UPSTREAM_UNAVAILABLE', outcome: 'UNKNOWN' } },
    );
  }
  if (error instanceof UpstreamRateLimitedError) {
    return new GraphQLError('Clerk is rate limiting us and nothing usable is cached. Retry later.', {
      extensions: { code: 'RATE_LIMITED', retryAfterSeconds: error.retryAfterSeconds ?? null },
    });
  }
  if (error instanceof UpstreamUnavailableError || error instanceof KeySetUnavailableError) {
    return new GraphQLError('Clerk is unavailable and nothing usable is cached. Retry later.', {
      extensions: { code: 'UPSTREAM_UNAVAILABLE' },
    });
  }
  return error;
}
