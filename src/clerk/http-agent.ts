/**
 * Bounded sockets toward Clerk. The SDK calls the global `fetch` and takes neither an `AbortSignal` nor a `fetch`
 * of our own, so when Clerk hangs, every call we stopped waiting for keeps its socket until Node's defaults give up
 * (5 minutes for headers): sockets then grow with the request rate. Here requests to the Clerk API origin go through
 * an undici `Agent` with a connection limit and socket-level timeouts, so a hanging Clerk holds at most
 * `maxSockets` sockets, each for about `timeoutMs`. Better still, when the upstream policy stops waiting for a call,
 * its request is ended at once (`currentSignal`): the socket is closed, or the request leaves the agent's queue.
 *
 * `fetch` has one global dispatcher, and one process may hold several apps (tests) and other fetches (the tests'
 * own, webhooks to elsewhere). So a routing dispatcher is installed once as the global one: requests to a registered
 * Clerk origin go to that origin's bounded `Agent`, everything else to the dispatcher that was global before.
 * Registering returns the way to undo it, which app shutdown uses.
 *
 * `undici` is the npm package at the major version Node 20 bundles (6), whose dispatcher interface Node's own
 * `fetch` calls.
 */
import { Agent, Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici';

export interface ClerkHttpOptions {
  /** The Clerk API base URL (`CLERK_API_URL`); only its origin matters. */
  apiUrl: string;
  /** Connections to Clerk at most (`CLERK_MAX_SOCKETS`); more requests wait inside the agent. */
  maxSockets: number;
  /**
   * The call policy's timeout (`CLERK_TIMEOUT_MS`). The socket-level bounds (response headers, between body chunks,
   * connecting) are a backstop a little behind it: the policy's own timer ends a call first (and aborts it through
   * `currentSignal`), so a hang is always a timeout to the policy (never retried), not a failed call (retried).
   */
  timeoutMs: number;
  /**
   * The signal of the Clerk call under way where the SDK's `fetch` reaches the dispatcher (the upstream policy's
   * `currentCallSignal`): when it aborts, the request is ended (its socket closed, or it leaves the agent's queue).
   */
  currentSignal?: () => AbortSignal | undefined;
}

export interface ClerkHttp {
  /** The bounded agent for the Clerk origin. */
  readonly agent: Agent;
  /** Sends the origin back to the previous dispatcher, and closes the agent's sockets. */
  close(): Promise<void>;
}

const ROUTER = Symbol.for('team-graphql.clerk-origin-router');

interface Route {
  dispatcher: Dispatcher;
  currentSignal: (() => AbortSignal | undefined) | undefined;
}

/** Global dispatcher: registered origins to their own dispatcher (the newest registration wins), the rest as before. */
class OriginRouter extends Dispatcher {
  readonly routes = new Map<string, Route[]>();

  constructor(public fallback: Dispatcher) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    const routes = this.routes.size > 0 ? this.routes.get(originOf(options.origin)) : undefined;
    const route = routes?.[routes.length - 1];
    if (!route) return this.fallback.dispatch(options, handler);
    const signal = route.currentSignal?.();
    return route.dispatcher.dispatch(options, signal ? endedBy(signal, handler) : handler);
  }

  // The global dispatcher lives as long as the process: closing it is nobody's business.
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    if (callback) return void queueMicrotask(callback);
    return Promise.resolve();
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
    const callback = typeof first === 'function' ? first : second;
    if (callback) return void queueMicrotask(callback);
    return Promise.resolve();
  }
}

/** The same handler, whose request is aborted when `signal` aborts (before or while it runs). */
function endedBy(signal: AbortSignal, handler: Dispatcher.DispatchHandlers): Dispatcher.DispatchHandlers {
  let stopListening: (() => void) | undefined;
  const done = () => {
    stopListening?.();
    stopListening = undefined;
  };
  return {
    onConnect(abort) {
      handler.onConnect?.(abort);
      done();
      const end = () =>
        abort(signal.reason instanceof Error ? signal.reason : new Error('Clerk call abandoned'));
      if (signal.aborted) return end();
      signal.addEventListener('abort', end, { once: true });
      stopListening = () => signal.removeEventListener('abort', end);
    },
    onError(error) {
      done();
      handler.onError?.(error);
    },
    onUpgrade(statusCode, headers, socket) {
      done();
      handler.onUpgrade?.(statusCode, headers, socket);
    },
    onResponseStarted() {
      handler.onResponseStarted?.();
    },
    onHeaders(statusCode, headers, resume, statusText) {
      return handler.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
    },
    onData(chunk) {
      return handler.onData?.(chunk) ?? true;
    },
    onComplete(trailers) {
      done();
      handler.onComplete?.(trailers);
    },
    onBodySent(chunkSize, totalBytesSent) {
      handler.onBodySent?.(chunkSize, totalBytesSent);
    },
  };
}

function originOf(origin: Dispatcher.DispatchOptions['origin']): string {
  if (origin === undefined) return '';
  if (typeof origin !== 'string') return origin.origin;
  // Already an origin (what fetch passes) in all but odd cases; normalise those.
  return /^https?:\/\/[^/]+$/.test(origin) && origin === origin.toLowerCase()
    ? origin
    : new URL(origin).origin;
}

function router(): OriginRouter {
  const holder = globalThis as { [ROUTER]?: OriginRouter };
  let installed = holder[ROUTER];
  if (!installed) {
    installed = new OriginRouter(getGlobalDispatcher());
    holder[ROUTER] = installed;
  } else if (getGlobalDispatcher() !== installed) {
    // Someone set another global dispatcher since: it becomes what unregistered origins go to.
    installed.fallback = getGlobalDispatcher();
  }
  if (getGlobalDispatcher() !== installed) setGlobalDispatcher(installed);
  return installed;
}

/**
 * How far the socket-level timeouts stand behind the policy's: equal bounds raced, and when the agent's fired first
 * the policy saw a failed call and retried a hanging Clerk (two JWKS reads for one token, under load).
 */
const SOCKET_TIMEOUT_MARGIN_MS = 500;

/** Sends every `fetch` to the Clerk API origin through a bounded agent until `close()`. */
export function installClerkHttp(options: ClerkHttpOptions): ClerkHttp {
  const origin = new URL(options.apiUrl).origin;
  const socketTimeoutMs = options.timeoutMs + SOCKET_TIMEOUT_MARGIN_MS;
  const agent = new Agent({
    connections: options.maxSockets,
    headersTimeout: socketTimeoutMs,
    bodyTimeout: socketTimeoutMs,
    connect: { timeout: Math.min(socketTimeoutMs, 10_000) },
  });
  const routes = router().routes;
  const route: Route = { dispatcher: agent, currentSignal: options.currentSignal };
  routes.set(origin, [...(routes.get(origin) ?? []), route]);

  let closed = false;
  return {
    agent,
    async close() {
      if (closed) return;
      closed = true;
      const remaining = (routes.get(origin) ?? []).filter((each) => each !== route);
      if (remaining.length > 0) routes.set(origin, remaining);
      else routes.delete(origin);
      // Requests still under way are ours and nobody waits for them any more.
      await agent.destroy();
    },
  };
}
