/**
 * Clerk's signing keys, when no `CLERK_JWT_KEY` is configured: the JWKS (`GET /v1/jwks`) read through the same
 * upstream policy as every other Clerk call (deadline, budget, breaker; the composition root supplies `read`), kept
 * for `ttlMs`, and looked up by the token's `kid`.
 *
 * The key ID of a token is chosen by whoever sent it, so it must not decide when Clerk is called: a `kid` the key set
 * does not hold triggers at most one read per `refreshIntervalMs` (Clerk rotates keys rarely, and a new key is
 * picked up within that interval); every other unknown `kid` meanwhile is simply unknown. A caller never waits past
 * its deadline for a read.
 *
 * Outcomes of `pemFor`:
 * - the key, as a PEM for `verifyToken({ jwtKey })` (networkless verification);
 * - `undefined`: a key set read successfully, and recently enough to trust, has no such key → the token is bad (401);
 * - `KeySetUnavailableError`: no usable key set could be read in time → the token cannot be checked. Not a 401 (the
 *   token may well be fine, and a 401 signs users out): the client gets `UPSTREAM_UNAVAILABLE`, like for any other
 *   Clerk outage.
 */
import { createPublicKey } from 'node:crypto';

/** A JSON Web Key as the JWKS lists it (RFC 7517); only RSA signing keys are used. */
export interface JsonWebKeyEntry {
  kid?: string;
  kty?: string;
  alg?: string;
  use?: string;
  n?: string;
  e?: string;
}

export interface JsonWebKeySet {
  keys?: readonly JsonWebKeyEntry[];
}

/** The token could not be checked because Clerk's signing keys could not be read. Not the caller's fault. */
export class KeySetUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('Could not load Clerk signing keys', options);
    this.name = 'KeySetUnavailableError';
  }
}

export interface KeySetOptions {
  /**
   * Reads the JWKS; must settle by `deadline` (the upstream policy's call options). `priority` is `background` for a
   * refresh nobody waits for.
   */
  read(options: { deadline: number; priority: 'interactive' | 'background' }): Promise<JsonWebKeySet>;
  /** How long a key set is used before it is read again (in the background: its keys keep working). @default 1 h */
  ttlMs?: number;
  /** At most one read per this interval because of unknown `kid`s. @default 30 s */
  refreshIntervalMs?: number;
  /** While no key set has ever been read, at most one attempt per this interval. @default 1 s */
  retryIntervalMs?: number;
  /** Deadline of a background refresh. @default 10 s */
  backgroundDeadlineMs?: number;
  now?: () => number;
}

export interface KeySet {
  /** The PEM of key `kid`, or undefined if a trusted key set has no such key. */
  pemFor(kid: string, deadline: number): Promise<string | undefined>;
}

export function createKeySet(options: KeySetOptions): KeySet {
  // Late-bound, so a test that fakes Date (vi.setSystemTime) moves this clock too.
  const now = options.now ?? (() => Date.now());
  const ttlMs = options.ttlMs ?? 3_600_000;
  const refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
  const retryIntervalMs = options.retryIntervalMs ?? 1000;
  const backgroundDeadlineMs = options.backgroundDeadlineMs ?? 10_000;

  /** kid → PEM, from the last successful read. */
  let keys: Map<string, string> | undefined;
  let loadedAt = Number.NEGATIVE_INFINITY;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastAttemptFailed = false;
  let lastError: unknown;
  let loading: Promise<void> | undefined;

  const mayRead = (t: number) => t - lastAttemptAt >= (keys ? refreshIntervalMs : retryIntervalMs);

  function load(deadline: number, priority: 'interactive' | 'background'): Promise<void> {
    if (!loading) {
      lastAttemptAt = now();
      loading = Promise.resolve()
        .then(() => options.read({ deadline, priority }))
        .then((jwks) => {
          const read = toPems(jwks);
          if (read.size === 0) throw new Error('Clerk listed no usable RSA signing key');
          keys = read;
          loadedAt = now();
          lastAttemptFailed = false;
        })
        .catch((error: unknown) => {
          // The keys read before (if any) stay in use: keys rotate rarely, outages happen.
          lastAttemptFailed = true;
          lastError = error;
        })
        .finally(() => {
          loading = undefined;
        });
    }
    return loading;
  }

  return {
    async pemFor(kid, deadline) {
      const t = now();
      const known = keys?.get(kid);
      if (known) {
        if (t - loadedAt >= ttlMs && mayRead(t)) void load(t + backgroundDeadlineMs, 'background');
        return known;
      }
      if (loading || mayRead(t)) {
        const attemptStartedAt = loading ? lastAttemptAt : t;
        const finished = await settlesBy(load(deadline, 'interactive'), deadline, now);
        const found = keys?.get(kid);
        if (found) return found;
        if (finished && !lastAttemptFailed && loadedAt >= attemptStartedAt) return undefined;
        throw new KeySetUnavailableError({
          cause: finished ? lastError : new Error('JWKS read past the deadline'),
        });
      }
      // A read was made recently: its answer stands for this interval.
      if (keys && !lastAttemptFailed) return undefined;
      throw new KeySetUnavailableError({ cause: lastError });
    },
  };
}

/** True if `promise` settled before `deadline`, false if the deadline came first (the promise goes on). */
function settlesBy(promise: Promise<void>, deadline: number, now: () => number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - now()));
  });
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}

function toPems(jwks: JsonWebKeySet): Map<string, string> {
  const pems = new Map<string, string>();
  for (const key of jwks?.keys ?? []) {
    if (key.kty !== 'RSA' || typeof key.kid !== 'string' || (key.use !== undefined && key.use !== 'sig'))
      continue;
    try {
      const pem = createPublicKey({ key: { kty: 'RSA', n: key.n, e: key.e }, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      pems.set(key.kid, pem);
    } catch {
      // A key we cannot read verifies nothing; the others still do.
    }
  }
  return pems;
}
