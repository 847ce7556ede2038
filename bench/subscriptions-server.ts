/**
 * The server for `npm run bench:subscriptions`, in a process of its own (`node --expose-gc --import tsx`, forked by
 * bench/subscriptions.ts): the real server (`startServer`, configured from the environment exactly like main.ts),
 * plus an IPC channel through which the bench asks for the heap after a full GC and the open streams. The clients
 * live in the bench's process, so nothing of theirs is in this heap.
 */
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/server.js';

export type ServerRequest = { type: 'heap' };
export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'heap'; heapUsed: number; rss: number; open: number; organizations: number }
  | { type: 'error'; message: string };

const gc = (globalThis as { gc?: () => void }).gc;
const send = (message: ServerMessage) => process.send?.(message);

async function settledHeap(): Promise<number> {
  if (!gc) throw new Error('the bench server needs --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

async function main() {
  const config = loadConfig(process.env);
  if (!config.clerkSecretKey) throw new Error('CLERK_SECRET_KEY is required');
  const { app, port } = await startServer({
    config: { ...config, clerkSecretKey: config.clerkSecretKey },
    logger: createLogger(config.logLevel),
    port: config.port,
    host: config.host,
    adminPort: config.adminPort,
    adminHost: config.adminHost,
    shutdownDelayMs: config.shutdownDelayMs,
    shutdownGraceMs: config.shutdownGraceMs,
  });
  process.on('message', (request: ServerRequest) => {
    if (request.type !== 'heap') return;
    void settledHeap().then(
      (heapUsed) =>
        send({ type: 'heap', heapUsed, rss: process.memoryUsage().rss, ...app.liveStreams.stats() }),
      (error: unknown) => send({ type: 'error', message: String(error) }),
    );
  });
  send({ type: 'ready', port });
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
