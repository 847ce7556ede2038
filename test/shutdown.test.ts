/**
 * The shutdown an orchestrator starts with SIGTERM, on a real process (`src/main.ts` through tsx, production mode,
 * with Redis) against the emulator, with a live stream open and a request in flight whose Clerk answer is held.
 * Every step is checked by what happens, in order, never by how long it took: the delay is set far longer than the
 * test and ended by a second signal, as an operator's second Ctrl-C would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveTeam } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { queryGraphQL, rosterPath, startClerkGate } from './helpers/harness.js';
import { subscribe } from './helpers/live.js';
import { redisAvailable, startRedis } from './helpers/redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** The server's environment: the parent's, less anything that would configure it, plus `settings`. */
function serverEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(CLERK_|CACHE_|WEBHOOK_|REDIS_|ADMIN_|SHUTDOWN_|PORT$|HOST$|LOG_LEVEL$|NODE_ENV$)/.test(key))
      continue;
    env[key] = value;
  }
  return { ...env, ...settings };
}

/** The server's JSON log lines, as they arrive; `waitFor` resolves with the first line matching `msg`. */
function logOf(child: ChildProcess) {
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const complete = buffered.split('\n');
    buffered = complete.pop() ?? '';
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const waiter of waiters.filter((each) => each.msg === line.msg)) waiter.resolve(line);
    }
  });
  return {
    lines,
    waitFor: (msg: string) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const seen = lines.find((line) => line.msg === msg);
        if (seen) resolve(seen);
        else waiters.push({ msg, resolve });
      }),
  };
}

/** Asks `url` until it answers `status` (the process changes state on a signal we cannot await). */
async function untilStatus(url: string, status: number): Promise<void> {
  for (;;) {
    const response = await fetch(url);
    await response.arrayBuffer();
    if (response.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const TEAM = `query Team($id: ID!) { organization(id: $id) { members(limit: 5) { totalCount members { userId } } } }`;

const run = redisAvailable('shutdown (a real process with Redis)');

describe.skipIf(!run)('SIGTERM on a real process', () => {
  it('readyz 503 at once, still serving; then streams complete, the request in flight is answered, Redis closes, exit 0', async () => {
    const redis = await startRedis();
    const emulator = await startClerkEmulator({ seed: 'empty' });
    const gate = await startClerkGate(emulator.url);
    const inspector = new Redis(redis.url);
    try {
      const watched = seedTeam(emulator, { name: 'Watched Co', members: 3 });
      const slow = seedTeam(emulator, { name: 'Slow Co', members: 3 });
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: serverEnv({
          NODE_ENV: 'production',
          PORT: '0',
          ADMIN_PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          CLERK_SECRET_KEY: emulator.secretKey,
          CLERK_API_URL: gate.url,
          CLERK_JWT_KEY: emulator.publicKeyPem,
          REDIS_URL: redis.url,
          REDIS_KEY_PREFIX: `shutdown-${randomBytes(4).toString('hex')}:`,
          // Longer than the test: only the second signal ends it, so "still serving" cannot race the clock.
          SHUTDOWN_DELAY_MS: '600000',
          SHUTDOWN_GRACE_MS: '600000',
        }),
      });
      children.add(child);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const log = logOf(child);
      const listening = await log.waitFor('server listening');
      const url = String(listening.url)
        .replace(/\/graphql$/, '')
        .replace('localhost', '127.0.0.1');
      const adminUrl = String(listening.metrics)
        .replace(/\/metrics$/, '')
        .replace('localhost', '127.0.0.1');
      await untilStatus(`${url}/readyz`, 200); // Redis has accepted the replica

      // A live stream, open.
      const stream = subscribe(url, watched.tokenFor(watched.admin.userId), LiveTeam, {
        id: watched.organizationId,
        limit: 10,
        includePending: false,
      });
      expect((await stream.next()).data?.teamChanged.reasons).toEqual(['INITIAL']);

      // A request in flight: Clerk's answer to its roster read is held on its way back.
      const held = gate.hold((path) => path === rosterPath(slow.organizationId));
      let slowAnswered = false;
      const slowRequest = queryGraphQL<{ organization: { members: { totalCount: number } } }, { id: string }>(
        url,
        TEAM,
        { token: slow.tokenFor(slow.admin.userId), variables: { id: slow.organizationId } },
      ).finally(() => {
        slowAnswered = true;
      });
      await held.answered;

      // 1. SIGTERM: /readyz 503 at once, on both ports; /healthz still 200.
      child.kill('SIGTERM');
      await untilStatus(`${url}/readyz`, 503);
      expect((await fetch(`${adminUrl}/readyz`)).status).toBe(503);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);

      // 2. The delay: requests are still served (a GraphQL query, /metrics on the admin port), the stream is open,
      // the slow request still waits for Clerk.
      const during = await queryGraphQL<
        { organization: { members: { totalCount: number } } },
        { id: string }
      >(url, TEAM, {
        token: watched.tokenFor(watched.admin.userId),
        variables: { id: watched.organizationId },
      });
      expect(during.status).toBe(200);
      expect(during.data?.organization.members.totalCount).toBe(4);
      expect((await fetch(`${adminUrl}/metrics`)).status).toBe(200);
      expect(stream.isOver).toBe(false);
      expect(slowAnswered).toBe(false);

      // 3. A second signal ends the delay: the listener closes and the stream completes cleanly, while the slow
      // request is still in flight.
      child.kill('SIGTERM');
      expect(await stream.ended).toEqual({ kind: 'complete' });
      expect(slowAnswered).toBe(false);
      // The client reconnects elsewhere: this replica takes no new request (refused at the socket, or 503 on a
      // connection kept alive).
      const afterClose = await fetch(`${url}/readyz`).then(
        (response) => response.status,
        () => 'refused' as const,
      );
      expect([503, 'refused']).toContain(afterClose);

      // 4. The request in flight gets its answer within the grace period.
      held.release();
      const answer = await slowRequest;
      expect(answer.status).toBe(200);
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.organization.members.totalCount).toBe(4);

      // 5. Everything released (Redis included), then exit 0.
      expect(await exited).toEqual({ code: 0, signal: null });
      const order = log.lines.map((line) => line.msg).filter((msg) => /shut/.test(String(msg)));
      expect(order).toEqual(['shutting down', 'shutdown delay skipped', 'shut down']);
      const clients = String(await inspector.client('LIST'));
      expect(clients).not.toMatch(/name=team-graphql:/);
    } finally {
      inspector.disconnect();
      await gate.close();
      await emulator.close();
      await redis.stop();
    }
  }, 60_000);
});
