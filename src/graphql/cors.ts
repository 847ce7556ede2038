/**
 * CORS: the configured origins, plus any loopback origin when asked; no credentials (Bearer tokens only). Decided
 * here for each request, and handed to @whatwg-node's CORS as exactly one origin or none: given several, it answers
 * an origin it does not know with `Access-Control-Allow-Origin: null`, which allows the very pages that send
 * `Origin: null` (sandboxed iframes, `data:` and `file:` documents). `null` is never an allowed origin.
 *
 * Yoga's `cors` option, not a plugin of ours: Yoga places its CORS plugin itself (before every plugin's
 * `onResponse`, which the fast path's prepared responses rely on).
 */
import type { CORSOptions } from 'graphql-yoga';

export interface CorsPolicyOptions {
  /** Origins allowed to call from a browser (`*`: any); empty means same-origin only. */
  origins: readonly string[];
  /** Also allow any loopback origin (`http://localhost:3000`, …): the zero-config start only. @default false */
  allowLocalhostOrigins?: boolean;
}

const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

/** Yoga's `cors` option: `false` (no CORS headers at all) or a per-request decision. */
export function corsPolicy(options: CorsPolicyOptions): false | ((request: Request) => CORSOptions) {
  const configured = new Set(options.origins);
  const allowLocalhost = options.allowLocalhostOrigins === true;
  if (configured.size === 0 && !allowLocalhost) return false;
  const policy = (origin: string): CORSOptions => ({
    origin: [origin],
    methods: ['GET', 'POST'],
    // Idempotency-Key: safe retries of mutations; a replay says so in Idempotent-Replayed, which scripts may read.
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    exposedHeaders: ['Idempotent-Replayed'],
    // Bearer tokens only: no cookies, so browsers need not (and must not) send credentials.
    credentials: false,
  });
  return (request) => {
    const origin = request.headers.get('origin');
    if (!origin || origin === 'null') return false;
    const allowed =
      configured.has(origin) || configured.has('*') || (allowLocalhost && LOOPBACK_ORIGIN.test(origin));
    return allowed ? policy(origin) : false;
  };
}
