/**
 * One server process (`src/main.ts` through tsx, production mode) against an in-process emulator, for the
 * standalone bench scripts that need settings of their own (a small heap, a short TTL, a probe preloaded). Tokens
 * are verified with the emulator's public key (no JWKS reads); the Clerk budget is out of the way. The process has
 * an IPC channel (the heap and loop-stall probes answer over it) and is stopped with the harness's `stopAll`.
 */
import type { ClerkEmulator } from '@team-graphql/clerk-emulator';
import { type Child, forkNode, freePort, waitForHttp } from './processes.js';
import { ROOT } from './stack.js';

export interface EmulatedServerOptions {
  /** Node flags besides `--import tsx` (e.g. `--max-old-space-size=300`, `--import ./bench/lib/settled-heap.ts`). */
  nodeArgs?: string[];
  /** Settings besides the emulator's (e.g. `CACHE_TTL_SECONDS`). */
  env?: Record<string, string>;
}

export async function startEmulatedServer(
  emulator: ClerkEmulator,
  options: EmulatedServerOptions = {},
): Promise<{ url: string; adminUrl: string; server: Child }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const adminPort = await freePort();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const server = forkNode({
    name: 'server',
    nodeArgs: ['--import', 'tsx', ...(options.nodeArgs ?? [])],
    script: 'src/main.ts',
    env: {
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      // Nothing balances load in front of a benchmark: a stop need not wait for one to notice.
      SHUTDOWN_DELAY_MS: '0',
      LOG_LEVEL: 'warn',
      CLERK_SECRET_KEY: emulator.secretKey,
      CLERK_API_URL: emulator.url,
      CLERK_JWT_KEY: emulator.publicKeyPem,
      CLERK_RATE_LIMIT: '100000',
      ...options.env,
    },
    cwd: ROOT,
    echo: true,
  });
  await waitForHttp(`${url}/readyz`, server);
  return { url, adminUrl, server };
}
