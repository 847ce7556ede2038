/**
 * Turns a bearer token into a Viewer by verifying it as a Clerk session JWT. Knows nothing of GraphQL.
 *
 * Verification is always networkless (`verifyToken` with `jwtKey`): with `CLERK_JWT_KEY` its PEM; without, the
 * token's key from the JWKS (./jwks.ts), which is read through the upstream policy like every other Clerk call,
 * instead of letting the SDK fetch it on its own (with its own retries, no deadline and no budget) for every
 * unknown `kid`.
 *
 * Verification is RSA work (~0.45 ms a call in @clerk/backend), more than a whole cached answer costs, so
 * successful results are remembered per token until the token expires, in a bounded LRU.
 */
import { verifyToken } from '@clerk/backend';
import { TokenVerificationError, TokenVerificationErrorReason } from '@clerk/backend/errors';
import { LRUCache } from 'lru-cache';
import { AuthenticationError } from './errors.js';
import type { KeySet } from './jwks.js';
import { type SessionClaims, type Viewer, viewerFromClaims } from './viewer.js';

export interface TokenVerifierOptions {
  /** PEM public key (`CLERK_JWT_KEY`). */
  jwtKey?: string | undefined;
  /**
   * Without jwtKey: Clerk's keys by `kid` (./jwks.ts). A token whose key cannot be had in time fails with
   * `KeySetUnavailableError` (the GraphQL layer answers `UPSTREAM_UNAVAILABLE`, HTTP 200: not the caller's fault).
   */
  keySet?: KeySet | undefined;
  /**
   * How long a verification may wait for the key set when the caller passes no deadline (`REQUEST_DEADLINE_MS`).
   * @default 6000
   */
  deadlineMs?: number;
  authorizedParties: string[];
  /** Tolerance for clock differences with Clerk, as verifyToken applies it (Clerk's own default). @default 5000 */
  clockSkewMs?: number;
  /** How many verified tokens to remember. @default 10000 */
  maxCachedTokens?: number;
  now?: () => number;
}

/** `deadline` (epoch ms): when the caller stops waiting for Clerk's keys; default now + `deadlineMs`. */
export type TokenVerifier = (token: string, options?: { deadline?: number }) => Promise<Viewer>;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * How one request's token verification ended: the viewer (null without a token), or why not. Made once per
 * request, by whichever layer sees the request first (the fast path, else Yoga's context), and handed on: a layer
 * after it never verifies again (a second verification during a JWKS outage would wait a second time).
 */
export type Authentication = { viewer: Viewer | null } | { error: unknown };

/** Verifies the request's `Authorization` header (by `deadline`, epoch ms); never throws: the error is the outcome. */
export async function authenticate(
  verifyToken: TokenVerifier,
  authorization: string | null | undefined,
  deadline: number,
): Promise<Authentication> {
  try {
    // A malformed header throws too.
    const token = bearerTokenFrom(authorization);
    return { viewer: token ? await verifyToken(token, { deadline }) : null };
  } catch (error) {
    return { error };
  }
}

/** Reads `Authorization: Bearer <token>`; null when the header is absent. */
export function bearerTokenFrom(header: string | null | undefined): string | null {
  if (header == null || header.trim() === '') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  if (!match?.[1]) {
    throw new AuthenticationError(
      'malformed',
      'The Authorization header must be "Bearer <Clerk session token>".',
    );
  }
  return match[1];
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  // Late-bound, so a test that fakes Date (vi.setSystemTime) moves this clock too.
  const now = options.now ?? (() => Date.now());
  const { jwtKey, keySet } = options;
  if (!jwtKey && !keySet) throw new Error('Token verification needs CLERK_JWT_KEY or the JWKS');
  const deadlineMs = options.deadlineMs ?? 6000;
  const verified = new LRUCache<string, Viewer>({
    max: options.maxCachedTokens ?? 10_000,
    ttlAutopurge: false,
    // Age entries by the same clock that computed their TTL (and that verifyToken checks `exp` against), so a
    // faked clock expires them too; lru-cache otherwise uses performance.now.
    ttlResolution: 0,
    perf: { now },
  });
  const clockSkewMs = options.clockSkewMs ?? 5000;
  const verifyOptions = {
    clockSkewInMs: clockSkewMs,
    ...(options.authorizedParties.length > 0 ? { authorizedParties: options.authorizedParties } : {}),
  };

  /** The PEM that may have signed this token; throws when there is none or it cannot be had in time. */
  async function keyFor(token: string, deadline: number): Promise<string> {
    if (jwtKey) return jwtKey;
    const kid = keyIdOf(token);
    if (kid === undefined)
      throw new AuthenticationError('invalid', 'The session token names no signing key (kid).');
    const pem = await (keySet as KeySet).pemFor(kid, deadline);
    if (pem === undefined) {
      throw new AuthenticationError('invalid', 'The session token is signed with a key Clerk does not list.');
    }
    return pem;
  }

  /** Verifications under way: a burst of requests with one new token pays for one RSA check, not one each. */
  const inFlight = new Map<string, Promise<Viewer>>();

  async function verify(token: string, deadline: number): Promise<Viewer> {
    const key = await keyFor(token, deadline);
    let claims: SessionClaims;
    try {
      claims = (await verifyToken(token, { ...verifyOptions, jwtKey: key })) as unknown as SessionClaims;
    } catch (error) {
      throw toAuthError(error);
    }
    if (typeof claims.sub !== 'string' || claims.sub === '') {
      throw new AuthenticationError('invalid', 'The session token has no subject.');
    }
    const viewer = viewerFromClaims(claims);
    // Remember the result no longer than verifyToken would accept the token, so an expired one is refused.
    const ttl = claims.exp * 1000 + clockSkewMs - now();
    if (ttl > 0) verified.set(token, viewer, { ttl });
    return viewer;
  }

  return async (token, { deadline = now() + deadlineMs } = {}) => {
    const cached = verified.get(token);
    if (cached) return cached;
    if (!JWT_SHAPE.test(token)) {
      throw new AuthenticationError('malformed', 'The bearer token is not a JWT.');
    }
    let pending = inFlight.get(token);
    if (!pending) {
      pending = verify(token, deadline).finally(() => inFlight.delete(token));
      inFlight.set(token, pending);
    }
    return pending;
  };
}

/** The `kid` of a token's header; undefined if it has none (the shape was checked before). */
function keyIdOf(token: string): string | undefined {
  try {
    const header: unknown = JSON.parse(
      Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString(),
    );
    const kid = (header as { kid?: unknown } | null)?.kid;
    return typeof kid === 'string' && kid !== '' ? kid : undefined;
  } catch {
    return undefined;
  }
}

function toAuthError(error: unknown): Error {
  if (!(error instanceof TokenVerificationError)) {
    return new AuthenticationError('invalid', 'The session token could not be verified.');
  }
  switch (error.reason) {
    case TokenVerificationErrorReason.TokenExpired:
      return new AuthenticationError('expired', 'The session token has expired.');
    case TokenVerificationErrorReason.TokenInvalidAuthorizedParties:
      return new AuthenticationError(
        'unauthorized_party',
        'The session token was issued for another party (azp).',
      );
    case TokenVerificationErrorReason.TokenNotActiveYet:
    case TokenVerificationErrorReason.TokenIatInTheFuture:
      return new AuthenticationError('invalid', 'The session token is not valid yet.');
    default:
      return new AuthenticationError(
        'invalid',
        'The session token is invalid (bad signature, key or format).',
      );
  }
}
