/**
 * Turns a bearer token into a Viewer by verifying it as a Clerk session JWT. Knows nothing of GraphQL.
 *
 * Verification is RSA work (~0.45 ms a call in @clerk/backend), more than a whole cached answer costs, so
 * successful results are remembered per token until the token expires, in a bounded LRU.
 */
import { verifyToken } from '@clerk/backend';
import { TokenVerificationError, TokenVerificationErrorReason } from '@clerk/backend/errors';
import { LRUCache } from 'lru-cache';
import { type SessionClaims, type Viewer, viewerFromClaims } from './viewer.js';

export type AuthFailureReason = 'missing' | 'malformed' | 'expired' | 'invalid' | 'unauthorized_party';

/** The caller could not be authenticated (answer 401). */
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
 * The token could not be checked because Clerk's JWKS could not be read. Not the caller's fault, so not a 401: the
 * GraphQL layer answers `UPSTREAM_UNAVAILABLE` (HTTP 200, like every other Clerk failure).
 */
export class KeySetUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('Could not load Clerk signing keys', options);
    this.name = 'KeySetUnavailableError';
  }
}

export interface TokenVerifierOptions {
  /** PEM public key: networkless verification. */
  jwtKey?: string | undefined;
  /** Without jwtKey, the JWKS is read from `{apiUrl}/v1/jwks` with this key. */
  secretKey?: string | undefined;
  apiUrl: string;
  authorizedParties: string[];
  /** Tolerance for clock differences with Clerk, as verifyToken applies it. Default 5 s (Clerk's default). */
  clockSkewMs?: number;
  /** How many verified tokens to remember. Default 10,000. */
  maxCachedTokens?: number;
  now?: () => number;
}

export type TokenVerifier = (token: string) => Promise<Viewer>;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

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
  if (!options.jwtKey && !options.secretKey) {
    throw new Error('Token verification needs CLERK_JWT_KEY or CLERK_SECRET_KEY');
  }
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
    ...(options.jwtKey
      ? { jwtKey: options.jwtKey }
      : { secretKey: options.secretKey, apiUrl: options.apiUrl }),
    ...(options.authorizedParties.length > 0 ? { authorizedParties: options.authorizedParties } : {}),
  };

  /** Verifications under way: a burst of requests with one new token pays for one RSA check, not one each. */
  const inFlight = new Map<string, Promise<Viewer>>();

  async function verify(token: string): Promise<Viewer> {
    let claims: SessionClaims;
    try {
      claims = (await verifyToken(token, verifyOptions)) as unknown as SessionClaims;
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

  return async (token) => {
    const cached = verified.get(token);
    if (cached) return cached;
    if (!JWT_SHAPE.test(token)) {
      throw new AuthenticationError('malformed', 'The bearer token is not a JWT.');
    }
    let pending = inFlight.get(token);
    if (!pending) {
      pending = verify(token).finally(() => inFlight.delete(token));
      inFlight.set(token, pending);
    }
    return pending;
  };
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
    case TokenVerificationErrorReason.RemoteJWKFailedToLoad:
      return new KeySetUnavailableError({ cause: error });
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
