/**
 * `npm run soak`: a bounded soak. The server runs as its own process against an in-process emulator (50 ms
 * latency) while autocannon keeps it busy, Clerk writes churn through signed webhooks, and faults are injected
 * (5xx bursts, a hang, a 429). It reports requests, HTTP and GraphQL errors, and the server's heap (from /metrics:
 * the lowest sample of the first and of the last stretch of the run), and exits non-zero on any 5xx or a heap that
 * keeps growing.
 *
 *   npm run soak -- --duration 120   (seconds of load; default 60)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { createClerkClient } from '@clerk/backend';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import autocannon from 'autocannon';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '60' } } });
const durationS = Math.max(5, Math.min(3600, Number(values.duration) || 60));
const ORGANIZATIONS = 50;

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

async function heapUsedBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
  return match ? Number(match[1]) : Number.NaN;
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
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      CLERK_SECRET_KEY: emulator.secretKey,
      CLERK_API_URL: emulator.url,
      CLERK_JWT_KEY: emulator.publicKeyPem,
      CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
      CLERK_TIMEOUT_MS: '1000',
      CACHE_TTL_SECONDS: '10',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
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
    // The heap is sampled every second; the lowest sample of a stretch (right after a collection) tracks what is
    // really kept alive, where a single sample mostly measures garbage not yet collected.
    const heapSamples: { at: number; bytes: number }[] = [];
    const sampler = setInterval(() => {
      void heapUsedBytes(url).then((bytes) => heapSamples.push({ at: Date.now(), bytes }));
    }, 1000);
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
    const faultLoop = (async () => {
      const kinds = ['status503', 'hang', 'rateLimit', 'status500'] as const;
      while (!stopping) {
        await new Promise((resolve) => setTimeout(resolve, 5000));
        if (stopping) break;
        const kind = kinds[faults % kinds.length] as (typeof kinds)[number];
        emulator.control.injectFault({
          route: 'GET /v1/organizations/{id}/memberships',
          kind,
          fraction: kind === 'hang' ? 0.2 : 0.5,
          retryAfterSeconds: 1,
        });
        faults++;
        await new Promise((resolve) => setTimeout(resolve, 1500));
        emulator.control.clearFaults();
      }
    })();

    const result = await autocannon({ url, connections: 20, duration: durationS, requests });
    stopping = true;
    await Promise.all([churnLoop, faultLoop]);
    emulator.control.clearFaults();
    // Let refresh-ahead and the last reads settle before measuring again.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    clearInterval(sampler);
    const lowest = (from: number, to: number) =>
      Math.min(
        ...heapSamples.filter((sample) => sample.at >= from && sample.at < to).map((sample) => sample.bytes),
      );
    const window = Math.min(15_000, (durationS * 1000) / 3);
    const heapBefore = lowest(loadStartedAt, loadStartedAt + window);
    const heapAfter = lowest(Date.now() - window, Date.now() + 1);

    const fiveXx = result['5xx'];
    const growth = heapAfter / heapBefore;
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
      heapLowestFirstWindow: mib(heapBefore),
      heapLowestLastWindow: mib(heapAfter),
      heapGrowth: `${((growth - 1) * 100).toFixed(1)}%`,
    };
    console.log(JSON.stringify(report, null, 2));
    // Heap under load is noisy (young generation); more than doubling after settling means a leak.
    const ok = fiveXx === 0 && result.errors === 0 && growth < 2;
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
