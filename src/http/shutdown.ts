/**
 * A graceful stop of the listener. New requests are turned away first (so /readyz answers 503 and the load balancer
 * stops sending), then the listener closes; keep-alive connections close as their last response goes out, in-flight
 * requests get a grace period to finish, and whatever is still open after it is closed. Only once no connection is
 * left does the app release what it holds.
 */
import type { Server } from 'node:http';

export interface ShutdownOptions {
  server: Server;
  /** Turns new requests away (readiness off). Called first. */
  stopAccepting(): void;
  /**
   * Ends what would hold a connection open through the whole grace period (live streams: their clients reconnect,
   * to another replica) and what would start new work (timers). Called once requests are turned away.
   * @default none
   */
  endLongRequests?: () => void;
  /**
   * Releases what the app holds (Yoga, the Clerk policy, Redis clients, sockets), once every connection is closed.
   * @default none
   */
  release?: () => Promise<void>;
}

/** How often idle keep-alive connections are looked for while in-flight requests finish. */
const IDLE_SWEEP_MS = 50;

/**
 * Stops the listener; resolves once every connection is closed and `release` is done.
 * @param graceMs How long in-flight requests may take to finish before their connections are closed.
 * @default 10_000
 */
export type Shutdown = (graceMs?: number) => Promise<void>;

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { server } = options;
  return async function shutdown(graceMs = 10_000) {
    options.stopAccepting();
    options.endLongRequests?.();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections become idle as their last response goes out: close them as they do.
    const sweeper = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    server.closeIdleConnections();
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    deadline.unref();
    await closed;
    clearInterval(sweeper);
    clearTimeout(deadline);
    await options.release?.();
  };
}
