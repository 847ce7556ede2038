/**
 * Starts the app on its two ports (public and admin) and stops it cleanly on SIGTERM / SIGINT. Shared by the
 * production entry (main.ts) and the development entry (dev.ts), which differ only in where Clerk is.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type App, type AppOptions, createApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './observability/logger.js';
import { startTracing, type Tracing } from './observability/tracing.js';

export interface StartServerOptions extends AppOptions {
  port: number;
  host: string;
  /** The admin listener's port (/metrics, the probes); `0` picks a free one. */
  adminPort: number;
  adminHost: string;
  /** On a signal, how long /readyz answers 503 while requests are still served (`SHUTDOWN_DELAY_MS`). */
  shutdownDelayMs: number;
  /** Then, how long requests in flight may take to finish (`SHUTDOWN_GRACE_MS`). */
  shutdownGraceMs: number;
  logger: Logger;
  /** Runs after the app has shut down on a signal, before the process exits (e.g. stop the emulator). @default none */
  onShutdown?: () => Promise<void>;
}

export interface RunningServer {
  app: App;
  /** The port actually bound (PORT=0 picks a free one). */
  port: number;
  /** The admin port actually bound (ADMIN_PORT=0 picks a free one). */
  adminPort: number;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startServer({
  port,
  host,
  adminPort,
  adminHost,
  shutdownDelayMs,
  shutdownGraceMs,
  logger,
  onShutdown,
  ...appOptions
}: StartServerOptions): Promise<RunningServer> {
  // A stray rejection is a bug to fix, not a reason to drop every request in flight: log it and keep serving.
  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: reason }));

  const app = createApp({ ...appOptions, logger });
  const bound = await listen(app.server, port, host);
  const adminBound = await listen(app.adminServer, adminPort, adminHost);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for load balancers. In-flight requests still finish.
      logger.info('shutdown delay skipped', { signal });
      app.shutdown.skipDelay();
      return;
    }
    stopping = true;
    logger.info('shutting down', { signal, delayMs: shutdownDelayMs, graceMs: shutdownGraceMs });
    await app.shutdown({ delayMs: shutdownDelayMs, graceMs: shutdownGraceMs });
    // Flushed once already, before Redis closed (src/http/shutdown.ts); this ends the exporter.
    await appOptions.tracing?.shutdown();
    await onShutdown?.();
    logger.info('shut down', { signal });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return { app, port: bound, adminPort: adminBound };
}

/**
 * Traces as the OTEL_* variables ask (src/config.ts): started before the app, so its first request is traced; off
 * (nothing loaded) without an endpoint.
 */
export function startTracingFor(config: Config): Promise<Tracing> {
  return startTracing({
    endpoint: config.otelTracesEndpoint,
    protocol: config.otelTracesProtocol,
    serviceName: config.otelServiceName,
    sampler: config.otelTracesSampler,
    samplerArg: config.otelTracesSamplerArg,
    scheduleDelayMs: config.otelBspScheduleDelayMs,
  });
}

/** Reports a failed start on stderr and exits 1: the process must not half-run. */
export function exitOnStartFailure(error: unknown): never {
  process.stderr.write(
    `Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
