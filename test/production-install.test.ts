/**
 * The production install, as the Dockerfile makes it, in a temporary folder outside the checkout: `dist/` built by
 * `npm run build` (tsc, tsconfig.build.json), `package.json` and the lockfile, and `npm ci --omit=dev` with the
 * Dockerfile's flags. Nothing else: no source, no dev dependencies, no emulator. That folder's `node dist/main.js`
 * must then serve a team page to a valid session token against Clerk (the emulator, started from this checkout, where
 * it is a dev dependency), apply a Clerk webhook (svix, a production dependency) and exit 0 on SIGTERM.
 *
 * The steps here and in the Dockerfile are the same; change them together. (Nothing here runs Docker.)
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClerkClient } from '@clerk/backend';
import { type ClerkEmulator, startClerkEmulator } from '@team-graphql/clerk-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TeamPage } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { queryGraphQL } from './helpers/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The Dockerfile's `deps` stage: production dependencies only, without the workspace (the emulator is a development
 * tool), without install scripts (no production dependency needs one). `--prefer-offline`: the checkout's own
 * `npm ci` has put every one of these packages in npm's cache, so CI asks the registry nothing.
 */
const PRODUCTION_INSTALL = [
  'ci',
  '--omit=dev',
  '--workspaces=false',
  '--ignore-scripts',
  '--prefer-offline',
  '--no-audit',
  '--no-fund',
];

const run = promisify(execFile);

async function step(command: string, args: string[], cwd: string): Promise<void> {
  await run(command, args, { cwd, env: process.env, maxBuffer: 16 * 1024 * 1024 }).catch(
    (error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `${command} ${args.join(' ')} failed: ${error.message}\n${error.stdout}\n${error.stderr}`,
      );
    },
  );
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

let folder: string;
let emulator: ClerkEmulator | undefined;
let server: ChildProcess | undefined;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'team-graphql-production-'));
});

afterAll(async () => {
  server?.kill('SIGKILL');
  await emulator?.close();
  await rm(folder, { recursive: true, force: true });
});

describe('production install (npm ci --omit=dev + dist/, as the Dockerfile builds it)', () => {
  it('installs no dev dependency and serves a team page against Clerk, applies its webhooks, exits 0 on SIGTERM', async () => {
    // Stage `build`: `npm run build`, written into the temporary folder (the checkout's dist/ is another test's).
    await step(
      process.execPath,
      [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        join(folder, 'dist'),
      ],
      ROOT,
    );
    // Stage `deps`: package.json and the lockfile, nothing else.
    for (const file of ['package.json', 'package-lock.json'])
      await copyFile(join(ROOT, file), join(folder, file));
    await step('npm', PRODUCTION_INSTALL, folder);

    const installed = await readdir(join(folder, 'node_modules'));
    expect(installed).toEqual(expect.arrayContaining(['graphql-yoga', 'svix', 'ioredis']));
    for (const dev of ['typescript', 'vitest', 'tsx', '@biomejs', '@team-graphql', 'playwright-core']) {
      expect(installed, dev).not.toContain(dev);
    }
    expect(await exists(join(folder, 'src'))).toBe(false);

    // Clerk: the emulator from this checkout; the production copy only knows its URL and keys.
    emulator = await startClerkEmulator({ seed: 'empty' });
    const team = seedTeam(emulator, { admins: 1, members: 2 });
    const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      ADMIN_PORT: '0',
      SHUTDOWN_DELAY_MS: '0',
      CLERK_SECRET_KEY: emulator.secretKey,
      CLERK_API_URL: emulator.url,
      CLERK_JWT_KEY: emulator.publicKeyPem,
      CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
      WEBHOOK_REFRESH_DEBOUNCE_MS: '0',
    };
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: folder,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const listening = await new Promise<{ url: string; metrics: string }>((resolve, reject) => {
      const check = () => {
        for (const line of output.split('\n')) {
          if (!line.includes('"server listening"')) continue;
          child.stdout.off('data', check);
          resolve(JSON.parse(line));
        }
      };
      child.stdout.on('data', check);
      void exited.then(({ code, signal }) =>
        reject(new Error(`node dist/main.js exited (${code ?? signal}) before listening:\n${output}`)),
      );
    });
    const url = listening.url.replace(/\/graphql$/, '');

    const page = await queryGraphQL(url, TeamPage, {
      token: team.admin.token,
      variables: { id: team.organizationId, limit: 20 },
    });
    expect(page.errors).toBeUndefined();
    expect(page.data?.organization?.members.totalCount).toBe(3);
    expect(page.data?.organization?.members.members.map((member) => member.userId)).toContain(
      team.admin.userId,
    );
    expect(
      (await queryGraphQL(url, TeamPage, { variables: { id: team.organizationId } })).errors?.[0]?.extensions
        ?.code,
    ).toBe('UNAUTHENTICATED');

    // A change in Clerk reaches the cached page through a signed webhook.
    emulator.control.addWebhookEndpoint({ url: `${url}/webhooks/clerk`, secret: webhookSecret });
    const clerk = createClerkClient({
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      telemetry: { disabled: true },
    });
    await clerk.organizations.deleteOrganizationMembership({
      organizationId: team.organizationId,
      userId: team.memberIds[0] as string,
    });
    await emulator.control.webhooksSettled();
    const answers = emulator.control.deliveries().map((delivery) => delivery.status);
    expect(answers.length).toBeGreaterThan(0);
    expect(
      answers.every((status) => status >= 200 && status < 300),
      String(answers),
    ).toBe(true);
    const after = await queryGraphQL(url, TeamPage, {
      token: team.admin.token,
      variables: { id: team.organizationId, limit: 20 },
    });
    expect(after.data?.organization?.members.members.map((member) => member.userId)).not.toContain(
      team.memberIds[0],
    );

    const ready = await fetch(listening.metrics.replace(/\/metrics$/, '/readyz'));
    expect(ready.status).toBe(200);
    await ready.arrayBuffer();

    child.kill('SIGTERM');
    expect(await exited, output).toEqual({ code: 0, signal: null });
  }, 300_000);

  it('.env.example names every variable src/config.ts reads, and only those', async () => {
    const source = await readFile(join(ROOT, 'src/config.ts'), 'utf8');
    const example = await readFile(join(ROOT, '.env.example'), 'utf8');
    const read = new Set(
      [...source.matchAll(/\b(?:read|integer|boolean|list|oneOf)\('([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]),
    );
    const named = new Set([...example.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    expect([...read].filter((name) => !named.has(name)).sort(), 'read but not in .env.example').toEqual([]);
    expect([...named].filter((name) => !read.has(name)).sort(), 'in .env.example but never read').toEqual([]);
  });
});
