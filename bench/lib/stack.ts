/**
 * The processes a benchmark measures, each a Node process of its own on loopback: the Clerk emulator (its package
 * bin, 200 ms latency, Svix-signed webhooks to the server), the server as deployed (`node dist/main.js`,
 * NODE_ENV=production, LOG_LEVEL=warn, tokens verified with CLERK_JWT_KEY) and the bare Yoga ceiling
 * (bench/ceiling-server.mjs, with the server's Node flags).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmulatorClient } from './emulator.js';
import { type Child, forkNode, freePort, startNode, waitForHttp } from './processes.js';

/** The repository: every process runs from here. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Latency the emulator adds to every Clerk API response, like the real Clerk's. */
export const EMULATOR_LATENCY_MS = 200;
const SECRET_KEY = 'sk_test_emulator';
/** The emulator is always its package's bin (TypeScript through tsx; it is not part of the server's build). */
const EMULATOR_BIN = 'packages/clerk-emulator/bin/clerk-emulator.js';

export type Entry = 'dist' | 'src';

/** How the server (and the ceiling, with the same flags) is started. */
export interface Launch {
  entry: Entry;
  /** Node flags before the script: none for the build, `--import tsx` for the sources. */
  nodeArgs: string[];
  server: string;
  /** Mirror the children's output to our stderr. */
  echo: boolean;
}

export function launchOf(entry: Entry, echo: boolean): Launch {
  return entry === 'dist'
    ? { entry, nodeArgs: [], server: 'dist/main.js', echo }
    : { entry, nodeArgs: ['--import', 'tsx'], server: 'src/main.ts', echo };
}

export interface Stack {
  emulator: Child;
  emu: EmulatorClient;
  server: Child;
  serverUrl: string;
  /** The server's admin listener: /metrics. */
  adminUrl: string;
  publicKeyPem: string;
}

/** The server's environment: ours only, so a stray CLERK_… or CACHE_… in the caller's shell cannot skew a run. */
function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (
      /^(CLERK_|CACHE_|WEBHOOK_|GRAPHIQL_|INTROSPECTION_|CORS_|LOG_LEVEL$|PORT$|HOST$|ADMIN_|SHUTDOWN_|NODE_ENV$)/.test(
        key,
      )
    )
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * A fresh RSA signing key: its private half in a private temporary file for the emulator (`--key-file`), its public
 * half for the server (`CLERK_JWT_KEY`), so neither has to wait for the other. Remove the file once the emulator
 * has read it (before, it would create a new key there).
 */
export function signingKeyFile(): { keyFile: string; publicKeyPem: string; remove(): void } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyDir = mkdtempSync(join(tmpdir(), 'bench-key-'));
  const keyFile = join(keyDir, 'signing-key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return {
    keyFile,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    remove: () => rmSync(keyDir, { recursive: true, force: true }),
  };
}

/**
 * Starts the emulator and the server side by side: the harness makes the signing key and gives the emulator its
 * private half (`--key-file`, a private temporary file, removed once the emulator has read it) and the server its
 * public half, so the server need not wait for the emulator to come up.
 */
export interface StackOptions {
  /** Node flags after the launch's own (profiling). */
  extraNodeArgs?: string[];
  /** The emulator's data at start. @default 'demo' */
  seed?: 'demo' | 'empty';
  /** More server environment (settings a scenario needs). */
  env?: Record<string, string>;
  /** Start the server with an IPC channel (a server script that answers messages, e.g. heap readings). */
  ipc?: boolean;
}

export async function startStack(launch: Launch, options: StackOptions = {}): Promise<Stack> {
  const { extraNodeArgs = [], seed = 'demo' } = options;
  const [emulatorPort, serverPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  const serverUrl = `http://127.0.0.1:${serverPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const { keyFile, publicKeyPem, remove: removeKeyFile } = signingKeyFile();

  const emulator = startNode({
    name: 'emulator',
    nodeArgs: [],
    script: EMULATOR_BIN,
    args: [
      '--port',
      String(emulatorPort),
      '--seed',
      seed,
      '--latency-ms',
      String(EMULATOR_LATENCY_MS),
      '--secret-key',
      SECRET_KEY,
      '--key-file',
      keyFile,
      '--webhook-url',
      `${serverUrl}/webhooks/clerk`,
      '--webhook-secret',
      webhookSecret,
    ],
    cwd: ROOT,
    echo: launch.echo,
  });
  const server = (options.ipc ? forkNode : startNode)({
    name: 'server',
    nodeArgs: [...launch.nodeArgs, ...extraNodeArgs],
    script: launch.server,
    env: serverEnv({
      NODE_ENV: 'production',
      PORT: String(serverPort),
      HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      // Nothing balances load in front of a benchmark: a stop need not wait for one to notice.
      SHUTDOWN_DELAY_MS: '0',
      LOG_LEVEL: 'warn',
      CLERK_SECRET_KEY: SECRET_KEY,
      CLERK_API_URL: emulatorUrl,
      CLERK_JWT_KEY: publicKeyPem,
      CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
      ...options.env,
    }),
    cwd: ROOT,
    echo: launch.echo,
  });
  const emulatorReady = waitForHttp(`${emulatorUrl}/__emulator`, emulator);
  try {
    await Promise.all([emulatorReady, waitForHttp(`${serverUrl}/readyz`, server)]);
  } finally {
    // Not before the emulator has read it (it would create a new key file there).
    await emulatorReady.catch(() => {});
    removeKeyFile();
  }
  const emu = new EmulatorClient(emulatorUrl, SECRET_KEY);
  const info = await emu.info();
  if (info.public_key_pem.trim() !== publicKeyPem.trim()) {
    throw new Error('the emulator does not sign with the key it was given (--key-file)');
  }
  return { emulator, emu, server, serverUrl, adminUrl, publicKeyPem };
}

export async function startCeiling(
  launch: Launch,
  extraNodeArgs: string[] = [],
): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = startNode({
    name: 'ceiling',
    nodeArgs: [...launch.nodeArgs, ...extraNodeArgs],
    script: 'bench/ceiling-server.mjs',
    env: serverEnv({ NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1' }),
    cwd: ROOT,
    echo: launch.echo,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child);
  return { child, url };
}
