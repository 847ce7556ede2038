/**
 * The zero-config start, as a user runs it: `node --import tsx src/dev.ts` (what `npm start` runs) with no Clerk
 * key; and the production build, which must contain no emulator and refuse to start without a Clerk key. We wait
 * for what the process prints, never for a fixed time.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUERY } from '../src/graphql/graphiql.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The parent's environment without anything that would point the server at a real Clerk or change its config. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      /^(CLERK_|CACHE_|WEBHOOK_|GRAPHIQL_|INTROSPECTION_|CORS_|ADMIN_|SHUTDOWN_|PORT$|HOST$|LOG_LEVEL$|NODE_ENV$)/.test(
        key,
      )
    )
      continue;
    env[key] = value;
  }
  return {
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_PORT: '0',
    CLERK_EMULATOR_PORT: '0',
    CLERK_EMULATOR_LATENCY_MS: '0',
    ...extra,
  };
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the match once stdout matches; rejects if the process exits first. */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern);
          if (!match) return;
          child.stdout?.off('data', check);
          resolve(match);
        };
        child.stdout?.on('data', check);
        check();
        void exited.then(({ code, signal }) =>
          reject(new Error(`exited (${code ?? signal}) before printing ${pattern}:\n${out}\n${err}`)),
        );
      });
    },
  };
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** The banner: the GraphiQL URL, then the demo token on the line after "Demo token", then the closing rule. */
const BANNER =
  /GraphiQL:\s+(http:\/\/\S+\/graphql)[\s\S]*?Demo token[^\n]*\n\s*(\S+\.\S+\.\S+)\s*\n[\s\S]*?={20,}/;

/** The claims of a JWT, unverified (the server verifies; we only read the active organization). */
function claimsOf(token: string): { sub: string; o?: { id: string }; org_id?: string } {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

interface TeamAnswer {
  data?: {
    organization: {
      members: { totalCount: number; members: { userId: string; firstName: string | null }[] };
    };
  };
  errors?: unknown[];
}

/** Everything a user does after `npm start`: open GraphiQL, run the default query, probe health, stop it. */
async function exerciseZeroConfigStart(app: Running) {
  const [, graphiqlUrl = '', token = ''] = await app.waitForStdout(BANNER);
  expect(app.stdout()).toMatch(/EMULATOR/);
  const base = graphiqlUrl.replace(/\/graphql$/, '');
  const claims = claimsOf(token);
  const organizationId = claims.o?.id ?? claims.org_id ?? '';
  expect(organizationId).toMatch(/^org_/);

  const page = await fetch(graphiqlUrl, { headers: { accept: 'text/html' } });
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  const html = await page.text();
  expect(html).toMatch(/<title>[^<]*GraphiQL[^<]*<\/title>/);
  expect(html).not.toMatch(/https?:\/\/unpkg\.com|cdn\.jsdelivr/);
  expect(html).toContain(organizationId); // the default query names the demo organization
  expect(html).toContain(token); // the Authorization header is prefilled
  // The tabs: the team query, the same page live, and the team actions on the demo team.
  for (const operation of [
    'query TeamPage',
    'subscription LiveTeam',
    'mutation Invite',
    'mutation MakeAdmin',
  ])
    expect(html).toContain(operation);

  const answer = await fetch(graphiqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: DEFAULT_QUERY(organizationId) }),
  });
  expect(answer.status).toBe(200);
  const body = (await answer.json()) as TeamAnswer;
  expect(body.errors).toBeUndefined();
  const team = body.data?.organization.members;
  expect(team?.totalCount).toBeGreaterThan(0);
  expect(team?.members.length).toBeGreaterThan(0);
  expect(team?.members.map((member) => member.userId)).toContain(claims.sub);
  expect(team?.members.every((member) => typeof member.firstName === 'string')).toBe(true);

  for (const path of ['/healthz', '/readyz']) {
    const probe = await fetch(`${base}${path}`);
    expect(probe.status, path).toBe(200);
    await probe.arrayBuffer();
  }
  // Metrics on the admin port the banner prints, not on the public one.
  const [, metricsUrl = ''] = app.stdout().match(/Metrics:\s+(http:\/\/\S+\/metrics)/) ?? [];
  const metrics = await fetch(metricsUrl);
  expect(metrics.status).toBe(200);
  expect(await metrics.text()).toMatch(/^http_responses_total\{/m);
  expect((await fetch(`${base}/metrics`)).status).toBe(404);

  app.child.kill('SIGTERM');
  expect(await app.exited).toEqual({ code: 0, signal: null });
  return { token, organizationId };
}

describe('zero-config start (no CLERK_SECRET_KEY)', () => {
  it('npm start: prints GraphiQL URL and demo token; GraphiQL, the default query, probes; SIGTERM exits 0; the token outlives a restart', async () => {
    const app = run(process.execPath, ['--import', 'tsx', 'src/dev.ts'], cleanEnv({}));
    const { token, organizationId } = await exerciseZeroConfigStart(app);

    // Restarted, the emulator signs with the same kept key: the token pasted somewhere still works.
    const restarted = run(process.execPath, ['--import', 'tsx', 'src/dev.ts'], cleanEnv({}));
    const [, graphiqlUrl = ''] = await restarted.waitForStdout(BANNER);
    const answer = await fetch(graphiqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: DEFAULT_QUERY(organizationId) }),
    });
    const body = (await answer.json()) as TeamAnswer;
    expect(answer.status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.organization.members.totalCount).toBeGreaterThan(0);
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('npm start in trusted-only mode: the banner says plain queries are refused and how to get GraphiQL, and so does the server', async () => {
    const manifest = fileURLToPath(new URL('./gql/persisted-documents.json', import.meta.url));
    const app = run(
      process.execPath,
      ['--import', 'tsx', 'src/dev.ts'],
      cleanEnv({ TRUSTED_DOCUMENTS_MANIFEST: manifest, TRUSTED_DOCUMENTS_ONLY: 'true' }),
    );
    const [, token = ''] = await app.waitForStdout(/Demo token[^\n]*\n\s*(\S+\.\S+\.\S+)\s*\n[\s\S]*?={20,}/);
    const banner = app.stdout();
    expect(banner).toMatch(/plain queries are refused \(PERSISTED_QUERY_ONLY\)/);
    expect(banner).toMatch(/TRUSTED_DOCUMENTS_ONLY=false npm start/);
    const [, apiUrl = ''] = banner.match(/API:\s+(http:\/\/\S+\/graphql)/) ?? [];
    // No GraphiQL URL, nor a GraphiQL tab to run: they would only be refused.
    expect(banner).not.toMatch(/GraphiQL:|"LiveTeam" tab/);
    // What it says holds: a plain query is refused, the manifest's documents run.
    const plain = await fetch(apiUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    });
    expect(
      ((await plain.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe('PERSISTED_QUERY_ONLY');
    const [documentId] = Object.entries(
      JSON.parse(await readFile(manifest, 'utf8')) as Record<string, string>,
    ).find(([, document]) => document.startsWith('query WhoAmI')) ?? [''];
    const byId = await fetch(apiUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ documentId }),
    });
    expect(((await byId.json()) as { data?: { viewer: { userId: string } } }).data?.viewer.userId).toBe(
      claimsOf(token).sub,
    );
    app.child.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('invalid configuration exits 1 with a message naming the variable', async () => {
    const app = run(
      process.execPath,
      ['--import', 'tsx', 'src/dev.ts'],
      cleanEnv({ CACHE_TTL_SECONDS: 'abc' }),
    );
    const { code } = await app.exited;
    expect(code).toBe(1);
    expect(app.stderr()).toMatch(/CACHE_TTL_SECONDS/);
    expect(app.stdout()).not.toMatch(/GraphiQL:/);
  }, 60_000);

  it('the production build contains no emulator, and without a Clerk key stops with a clear message', async () => {
    await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT, env: process.env }).catch(
      (error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(
          `npm run build failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`,
        );
      },
    );
    const built = await readdir(join(ROOT, 'dist'), { recursive: true });
    expect(built).toContain('main.js');
    expect(built.filter((file) => /emulator|dev\.js/.test(file))).toEqual([]);
    for (const file of built.filter((name) => name.endsWith('.js'))) {
      const code = await readFile(join(ROOT, 'dist', file), 'utf8');
      expect(code, file).not.toMatch(/clerk-emulator|startClerkEmulator/);
    }

    for (const env of [{ NODE_ENV: 'production' }, {}] as Record<string, string>[]) {
      const app = run(process.execPath, ['dist/main.js'], cleanEnv(env));
      expect(await app.exited).toEqual({ code: 1, signal: null });
      expect(app.stderr()).toMatch(/CLERK_SECRET_KEY is required/);
      expect(app.stdout()).not.toMatch(/GraphiQL:|EMULATOR/);
    }
  }, 180_000);
});
