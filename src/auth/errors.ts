/**
 * Why auth says no, in its own terms: who the caller is could not be established, they may not see what they asked
 * for, or what they asked for is not something we can look up. The GraphQL layer turns these into error codes
 * (src/graphql/errors.ts); nothing here knows about GraphQL.
 */

export { KeySetUnavailableError } from './jwks.js';

export type AuthFailureReason = 'missing' | 'malformed' | 'expired' | 'invalid' | 'unauthorized_party';

/** The caller could not be authenticated: no token where one is needed, or one that does not verify (answer 401). */
export class AuthenticationError extends Error {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

/**
 * The caller may not read this organization: they are not shown to belong to it, or it does not exist. The two
 * are one error on purpose, so organization IDs cannot be probed.
 */
export class AccessDeniedError extends Error {
  constructor(readonly organizationId: string) {
    super(`Access to organization ${organizationId} denied`);
    this.name = 'AccessDeniedError';
  }
}

/**
 * A member who may read the organization but not do this (their membership lacks `permission`). Told apart from
 * `AccessDeniedError` in the message only: a member already knows the organization exists.
 */
export class PermissionDeniedError extends Error {
  constructor(
    readonly organizationId: string,
    readonly permission: string,
  ) {
    super(`Your membership in ${organizationId} lacks ${permission}`);
    this.name = 'PermissionDeniedError';
  }
}

/** An argument that cannot name anything we would look up (refused before any read); `message` is for the caller. */
export class InvalidArgumentError extends Error {
  constructor(
    message: string,
    readonly argumentName: string,
  ) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}
