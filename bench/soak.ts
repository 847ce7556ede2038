/**
 * `npm run soak`: a bounded soak. The server runs as its own process against an in-process emulator (50 ms
 * latency) while autocannon keeps it busy, Clerk writes churn through signed webhooks, and faults are injected
 * (5xx bursts, a short partial hang, a 429, and a full hang long enough to open the roster route's circuit breaker,
 * which a probe closes once it ends), and once, a flood of session tokens with unknown key IDs (the server verifies
 * tokens against Clerk's JWKS, as without CLERK_JWT_KEY: junk `kid`s must not make it fetch the JWKS each time). It
 * reports requests, HTTP and GraphQL errors, the breaker's states, the junk tokens' answers and JWKS fetches, and the
 * server's heap after full collections (./lib/settled-heap.ts) once warm, halfway and at the end, and exits non-zero
 * on any 5xx, a heap that grew by half (or by a tenth in the second half), a breaker that never opened or is still
 * open at the end, or junk tokens that cost more than a few JWKS fetches.
 *
 *   npm run soak -- --duration 120   (seconds of load; default 60)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClerkClient } from '@clerk/backend';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import autocannon from 'autocannon';
import type { HeapAnswer, HeapRequest } from './lib/settled-heap.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '60' } } });
const durationS = Math.max(5, Math.min(3600, Number(values.duration) || 60));
const ORGANIZATIONS = 50;
const JUNK_TOKENS = 3000;
/** A full hang this long: at CLERK_TIMEOUT_MS=1000, enough timed-out calls to open the circuit, and a probe inside it. */
const LONG_HANG_MS = 6000;
const BREAKER_COOLDOWN_MS = 2000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function waitUntilReady(url: string, server: ChildProcess) {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('server did not become ready');
}

/** From /metrics: the heap, and the state of the roster route's circuit (0 closed, 1 half-open, 2 open). */
async function sample(url: string): Promise<{ heap: number; circuit: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const heap = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
  const circuit = /^clerk_circuit_state\{route="memberships"\} (\d)/m.exec(text);
  return { heap: heap ? Number(heap[1]) : Number.NaN, circuit: circuit ? Number(circuit[1]) : Number.NaN };
}

/**
 * A well-formed session token whose `kid` no JWKS lists (the signature is random bytes: an unknown key is refused
 * before any signature check).
 */
function junkToken(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return [
    part({ alg: 'RS256', typ: 'JWT', kid: `ins_${randomBytes(12).toString('hex')}` }),
    part({ sub: `user_${randomBytes(8).toString('hex')}`, iat: now, nbf: now - 5, exp: now + 60 }),
    randomBytes(256).toString('base64url'),
  ].join('.');
}

/** Sends the junk tokens, 50 at a time, to `{ viewer { userId } }`; returns the answers' statuses and codes. */
async function junkTokenFlood(url: string): Promise<Record<string, number>> {
  const answers: Record<string, number> = {};
  let sent = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (sent < JUNK_TOKENS) {
        sent++;
        const response = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${junkToken()}` },
          body: JSON.stringify({ query: '{ viewer { userId } }' }),
        }).catch(() => undefined);
        const body = response ? await response.text() : '';
        const key =
          `${response?.status ?? 'socket error'} ${/"code":"([A-Z_]+)"/.exec(body)?.[1] ?? ''}`.trim();
        answers[key] = (answers[key] ?? 0) + 1;
      }
    }),
  );
  return answers;
}

/** The server's heap after full collections: what it keeps alive (see ./lib/settled-heap.ts). */
async function settledHeap(server: ChildProcess): Promise<number> {
  const answer = once(server, 'message') as Promise<[HeapAnswer]>;
  server.send({ type: 'heap' } satisfies HeapRequest);
  const [{ heapUsed }] = await answer;
  return heapUsed;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main() {
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const emulator = await startClerkEmulator({ seed: 'empty', latencyMs: 50, jitterMs: 20 });
  const organizations = Array.from({ length: ORGANIZATIONS }, (_, i) => {
    const org = emulator.store.createOrganization({ name: `Soak ${i}` });
    const members = emulator.store.populate(org.id, 20 + i * 10);
    const token = emulator.mintToken({
      userId: members[0]?.userId as string,
      orgId: org.id,
      expiresInS: durationS + 600,
    });
    return { id: org.id, members, token };
  });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--import', './bench/lib/settled-heap.ts', 'src/main.ts'],
    {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        CLERK_SECRET_KEY: emulator.secretKey,
        CLERK_API_URL: emulator.url,
        // No CLERK_JWT_KEY: tokens are checked against Clerk's JWKS, read through the upstream policy (the JWKS flood).
        CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
        CLERK_TIMEOUT_MS: '1000',
        CLERK_BREAKER_COOLDOWN_MS: String(BREAKER_COOLDOWN_MS),
        CACHE_TTL_SECONDS: '10',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const stopServer = () => server.exitCode === null && server.kill('SIGTERM');
  process.on('exit', stopServer);

  try {
    await waitUntilReady(url, server);
    emulator.control.addWebhookEndpoint({ url: `${url}/webhooks/clerk`, secret: webhookSecret });
    const clerk = createClerkClient({
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      telemetry: { disabled: true },
    });

    const graphqlErrors = new Map<string, number>();
    const requests = organizations.map(({ id, token }) => ({
      method: 'POST' as const,
      path: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: `{ organization(id: "${id}") { members(limit: 20, includePending: true) { fromCache stale totalCount members { userId firstName email role } } } }`,
      }),
      onResponse: (_status: number, body: string) => {
        if (!body.includes('"errors"')) return;
        const code = /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? 'UNKNOWN';
        graphqlErrors.set(code, (graphqlErrors.get(code) ?? 0) + 1);
      },
    }));

    // Warm every organization, then take the baseline heap.
    await autocannon({ url, connections: 10, amount: ORGANIZATIONS * 4, requests });
    const heapBefore = await settledHeap(server);
    // Sampled four times a second for the circuit's state; the heap samples (garbage included) only give the peak.
    const heapSamples: { at: number; bytes: number }[] = [];
    const circuitSamples: { at: number; state: number }[] = [];
    const sampler = setInterval(() => {
      void sample(url).then(({ heap, circuit }) => {
        heapSamples.push({ at: Date.now(), bytes: heap });
        circuitSamples.push({ at: Date.now(), state: circuit });
      });
    }, 250);
    const loadStartedAt = Date.now();

    let churn = 0;
    let faults = 0;
    let stopping = false;
    const churnLoop = (async () => {
      while (!stopping) {
        const org = organizations[churn % ORGANIZATIONS];
        const member = org?.members[1 + (churn % 5)];
        if (org && member) {
          await clerk.organizations
            .updateOrganizationMembership({
              organizationId: org.id,
              userId: member.userId,
              role: churn % 2 ? 'org:admin' : 'org:member',
            })
            .catch(() => undefined); // faults apply to Clerk writes too; churn just goes on
          churn++;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    let longHangAt: number | undefined;
    const faultLoop = (async () => {
      // The second burst is the long hang (once, so even a short run has it, with time after it for a probe to
      // close the circuit); the others cycle through the short faults.
      const kinds = ['status503', 'hang', 'rateLimit', 'status500'] as const;
      while (!stopping) {
        await sleep(5000);
        if (stopping) break;
        const kind = faults === 1 ? 'longHang' : (kinds[faults % kinds.length] as (typeof kinds)[number]);
        const longHang = kind === 'longHang';
        if (longHang) longHangAt ??= Date.now();
        emulator.control.injectFault({
          route: 'GET /v1/organizations/{id}/memberships',
          kind: longHang ? 'hang' : kind,
          fraction: longHang ? 1 : kind === 'hang' ? 0.2 : 0.5,
          retryAfterSeconds: 1,
        });
        faults++;
        await sleep(longHang ? LONG_HANG_MS : 1500);
        emulator.control.clearFaults();
      }
    })();
    // Once, a third of the way in: junk tokens, next to the legitimate load.
    const jwksBefore = emulator.control.counters()['GET /v1/jwks'] ?? 0;
    const junkLoop = (async () => {
      await sleep((durationS * 1000) / 3);
      return junkTokenFlood(url);
    })();

    // Halfway: the heap again, once everything the run does has been done once (the first hang, junk tokens).
    const heapHalfway = sleep((durationS * 1000) / 2).then(() => settledHeap(server));
    const result = await autocannon({ url, connections: 20, duration: durationS, requests });
    stopping = true;
    const [junkAnswers] = await Promise.all([junkLoop, churnLoop, faultLoop]);
    const jwksFetches = (emulator.control.counters()['GET /v1/jwks'] ?? 0) - jwksBefore;
    emulator.control.clearFaults();
    // Let refresh-ahead and the last reads settle before measuring again.
    await sleep(2000);
    // A few more reads (a probe, if the circuit is still open after a hang at the very end), then it must be closed.
    await sleep(BREAKER_COOLDOWN_MS);
    await autocannon({ url, connections: 5, amount: ORGANIZATIONS, requests });
    const circuitAtEnd = (await sample(url)).circuit;
    clearInterval(sampler);
    const heapMid = await heapHalfway;
    const heapAfter = await settledHeap(server);
    const heapPeak = Math.max(
      ...heapSamples.filter((each) => each.at >= loadStartedAt).map((each) => each.bytes),
    );

    const fiveXx = result['5xx'];
    const growth = heapAfter / heapBefore;
    const stateName = ['closed', 'half-open', 'open'];
    /** The circuit's state changes, as seconds since the long hang began. */
    const circuitChanges = circuitSamples
      .filter((each, i) => i === 0 || each.state !== circuitSamples[i - 1]?.state)
      .map(
        (each) =>
          `${stateName[each.state] ?? each.state} at ${((each.at - (longHangAt ?? each.at)) / 1000).toFixed(1)} s`,
      );
    const breakerOpened = circuitSamples.some((each) => each.state === 2);
    const junkFiveXx = Object.entries(junkAnswers)
      .filter(([key]) => !/^[1-4]\d\d/.test(key))
      .reduce((sum, [, count]) => sum + count, 0);
    const report = {
      durationS,
      requests: result.requests.total,
      requestsPerSecond: result.requests.average,
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      http2xx: result['2xx'],
      http4xx: result['4xx'],
      http5xx: fiveXx,
      socketErrors: result.errors,
      timeouts: result.timeouts,
      graphqlErrors: Object.fromEntries(graphqlErrors),
      webhookChurnWrites: churn,
      faultBursts: faults,
      breaker: {
        opened: breakerOpened,
        stateAtEnd: stateName[circuitAtEnd] ?? circuitAtEnd,
        changes: circuitChanges,
      },
      junkTokens: { sent: JUNK_TOKENS, answers: junkAnswers, jwksFetches },
      heapSettledWarm: mib(heapBefore),
      heapSettledHalfway: mib(heapMid),
      heapSettledEnd: mib(heapAfter),
      heapGrowth: `${((growth - 1) * 100).toFixed(1)}%`,
      heapGrowthSecondHalf: `${((heapAfter / heapMid - 1) * 100).toFixed(1)}%`,
      heapSampledPeak: mib(heapPeak),
    };
    console.log(JSON.stringify(report, null, 2));
    // All after full collections, with the same organizations cached. The first half may grow (code compiled and
    // pools filled on first use); the second half repeats it, so growth there means something is kept per request.
    const ok =
      fiveXx === 0 &&
      result.errors === 0 &&
      growth < 1.5 &&
      heapAfter / heapMid < 1.1 &&
      breakerOpened &&
      circuitAtEnd === 0 &&
      junkFiveXx === 0 &&
      jwksFetches <= 5;
    console.log(ok ? 'soak: OK' : 'soak: FAILED');
    process.exitCode = ok ? 0 : 1;
  } finally {
    stopServer();
    await emulator.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
