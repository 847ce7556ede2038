/**
 * A graceful stop of the listeners, in the order a load balancer needs:
 *
 * 1. readiness off: /readyz answers 503 at once, on both listeners, and every other request is still served;
 * 2. for `delayMs` nothing else changes, so every load balancer notices and stops sending (a second signal, through
 *    `skipDelay`, ends the wait);
 * 3. new requests are turned away, live streams complete (their clients reconnect, to another replica), the public
 *    listener closes; keep-alive connections close as their last response goes out, in-flight requests get
 *    `graceMs` to finish, and whatever is still open after it is closed;
 * 4. the admin listener closes (it served /metrics until then), the spans of those requests are exported (traces
 *    flush), and only then does the app release what it holds (Redis closes last among them).
 */
import type { Server } from 'node:http';

export interface ShutdownOptions {
  /** The public listener. */
  server: Server;
  /** The admin listener (/metrics), closed once the public one is. @default none */
  adminServer?: Server;
  /** Turns /readyz to 503 while requests are still served. Called first. */
  stopReadiness(): void;
  /** Turns new requests away. Called once the delay is over. */
  stopAccepting(): void;
  /**
   * Ends what would hold a connection open through the whole grace period (live streams: their clients reconnect,
   * to another replica) and what would start new work (timers). Called once requests are turned away.
   * @default none
   */
  endLongRequests?: () => void;
  /**
   * Exports the spans of every request served (traces flush), once every connection is closed and before `release`
   * (a bounded wait: see src/observability/tracing.ts). @default none
   */
  flush?: () => Promise<void>;
  /**
   * Releases what the app holds (Yoga, the Clerk policy, Redis clients, sockets), once every connection is closed.
   * @default none
   */
  release?: () => Promise<void>;
}

export interface ShutdownTimes {
  /** How long /readyz answers 503 while requests are still served, before the listener closes (`SHUTDOWN_DELAY_MS`). */
  delayMs?: number;
  /** How long in-flight requests may take to finish once the listener has closed (`SHUTDOWN_GRACE_MS`). */
  graceMs: number;
}

/** Stops the listeners; resolves once every connection is closed and `release` is done. Runs once. */
export interface Shutdown {
  (times: ShutdownTimes): Promise<void>;
  /** Ends the delay of a shutdown under way now (an operator's second signal); nothing otherwise. */
  skipDelay(): void;
}

/** How often idle keep-alive connections are looked for while in-flight requests finish. */
const IDLE_SWEEP_MS = 50;

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { server, adminServer } = options;
  let endDelay: (() => void) | undefined;
  let running: Promise<void> | undefined;

  async function run({ delayMs = 0, graceMs }: ShutdownTimes) {
    options.stopReadiness();
    if (delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        endDelay = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      endDelay = undefined;
    }
    options.stopAccepting();
    options.endLongRequests?.();
    await closeListener(server, graceMs);
    if (adminServer) await closeListener(adminServer, graceMs);
    await options.flush?.();
    await options.release?.();
  }

  const shutdown = ((times: ShutdownTimes) => {
    running ??= run(times);
    return running;
  }) as Shutdown;
  shutdown.skipDelay = () => endDelay?.();
  return shutdown;
}

/** Closes a listener: idle connections at once, busy ones as their last response goes out, all after `graceMs`. */
async function closeListener(server: Server, graceMs: number): Promise<void> {
  // A listener that never listened (an app built but not served) reports an error here: it is closed all the same.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const sweeper = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  server.closeIdleConnections();
  const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
  deadline.unref();
  await closed;
  clearInterval(sweeper);
  clearTimeout(deadline);
}
