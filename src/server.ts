/**
 * Starts the app on its port and stops it cleanly on SIGTERM / SIGINT. Shared by the production entry (main.ts)
 * and the development entry (dev.ts), which differ only in where Clerk is.
 */
import type { AddressInfo } from 'node:net';
import { type App, type AppOptions, createApp } from './app.js';
import type { Logger } from './observability/logger.js';

export interface StartServerOptions extends AppOptions {
  port: number;
  host: string;
  logger: Logger;
  /** Runs after the app has shut down on a signal, before the process exits (e.g. stop the emulator). @default none */
  onShutdown?: () => Promise<void>;
}

export interface RunningServer {
  app: App;
  /** The port actually bound (PORT=0 picks a free one). */
  port: number;
}

export async function startServer({
  port,
  host,
  logger,
  onShutdown,
  ...appOptions
}: StartServerOptions): Promise<RunningServer> {
  // A stray rejection is a bug to fix, not a reason to drop every request in flight: log it and keep serving.
  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: reason }));

  const app = createApp({ ...appOptions, logger });
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(port, host, resolve);
  });
  const bound = (app.server.address() as AddressInfo).port;

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await app.shutdown();
    await onShutdown?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return { app, port: bound };
}

/** Reports a failed start on stderr and exits 1: the process must not half-run. */
export function exitOnStartFailure(error: unknown): never {
  process.stderr.write(
    `Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
