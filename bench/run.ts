/**
 * The benchmark harness (issue 6). Starts, on loopback, each in a process of its own:
 *   - the Clerk emulator (200 ms latency, Svix-signed webhooks to the server),
 *   - the server (`node dist/main.js`, or `node --import tsx src/main.ts` with `--entry src`),
 *   - a bare Yoga server (the ceiling), with the same Node flags,
 *   - a load worker per scenario (autocannon, bench/load-worker.ts), and the memory probe (bench/memory.ts);
 * runs the scenarios (warm-up, then a measured period), prints a markdown table and writes it with the raw JSON to
 * bench/results/ (timestamped, plus latest.md / latest.json).
 *
 *   npm run bench                  full run (a few minutes)
 *   npm run bench -- --quick       short periods, < 1 minute with the build
 *   npm run bench -- --smoke       1 s periods and small data, for the test (no meaningful numbers)
 *   npm run bench -- --profile     cache-hit load against a server under --cpu-prof; prints the top self-time functions
 *   npm run bench -- --profile-ceiling   the same for the bare Yoga ceiling (what Yoga itself costs)
 * Other options: --entry dist|src, --out-dir DIR, --only 1,2,5, --echo (show the children's output).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EmulatorClient, INVITATIONS_ROUTE, inPool, MEMBERSHIPS_ROUTE } from './lib/emulator.js';
import { type Child, forkNode, freePort, startNode, stopAll, waitForHttp } from './lib/processes.js';
import { profileMarkdown, summarizeProfile } from './lib/profile.js';
import type {
  LoadResult,
  LoadScenario,
  MemoryRequest,
  MemoryResult,
  MemoryToParent,
  ParentToWorker,
  WorkerToParent,
} from './lib/protocol.js';
import { machine, renderMarkdown, type ScenarioRow, type TargetRow } from './lib/report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EMULATOR_LATENCY_MS = 200;
const SECRET_KEY = 'sk_test_emulator';
const HIT_CONNECTIONS = 50;
const PAGE_SIZE = 500; // the Clerk source's page size: a roster of n members is ceil(n / 500) membership reads

interface Mode {
  name: 'full' | 'quick' | 'smoke';
  warmupSeconds: number;
  measureSeconds: number;
  coldOrganizations: number;
  coldWarmupOrganizations: number;
  coldConnections: number;
  herdRequests: number;
  deepMembers: number;
  memoryOrganizations: number;
  memoryMembersPerOrganization: number;
  memoryConcurrency: number;
}

const MODES: Record<Mode['name'], Mode> = {
  full: {
    name: 'full',
    warmupSeconds: 5,
    measureSeconds: 15,
    coldOrganizations: 500,
    coldWarmupOrganizations: 30,
    coldConnections: 10,
    herdRequests: 1000,
    deepMembers: 10_000,
    memoryOrganizations: 1000,
    memoryMembersPerOrganization: 100,
    memoryConcurrency: 50,
  },
  quick: {
    name: 'quick',
    warmupSeconds: 1,
    measureSeconds: 3,
    coldOrganizations: 60,
    coldWarmupOrganizations: 10,
    coldConnections: 10,
    herdRequests: 1000,
    deepMembers: 10_000,
    memoryOrganizations: 1000,
    memoryMembersPerOrganization: 100,
    memoryConcurrency: 100,
  },
  smoke: {
    name: 'smoke',
    warmupSeconds: 1,
    measureSeconds: 1,
    coldOrganizations: 20,
    coldWarmupOrganizations: 4,
    coldConnections: 4,
    herdRequests: 100,
    deepMembers: 1000,
    memoryOrganizations: 20,
    memoryMembersPerOrganization: 50,
    memoryConcurrency: 10,
  },
};

const SCENARIOS = [
  [1, 'ceiling: bare Yoga `{ __typename }`'],
  [2, 'cache hit `members(limit: 20)`'],
  [3, 'cache hit, `includePending: true`'],
  [4, 'deep page of a 10,000-member org'],
  [5, 'cold miss (each request a new org)'],
  [6, 'herd: concurrent queries, one cold org'],
  [7, 'churn: webhook invalidation every 100 ms'],
  [8, 'memory: heap per cached member'],
] as const;

type Log = (message: string) => void;
const log: Log = (message) => process.stderr.write(`bench: ${message}\n`);

// ---------------------------------------------------------------- options

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-ceiling': { type: 'boolean', default: false },
    entry: { type: 'string' },
    'out-dir': { type: 'string' },
    only: { type: 'string' },
    echo: { type: 'boolean', default: false },
  },
  strict: true,
  allowPositionals: false,
});

const mode = MODES[options.smoke ? 'smoke' : options.quick ? 'quick' : 'full'];
const entryOption = options.entry ?? (options.smoke ? 'src' : 'dist');
if (entryOption !== 'dist' && entryOption !== 'src') throw new Error('--entry must be dist or src');
const entry: 'dist' | 'src' = entryOption;
const outDir = options['out-dir'] ?? join(ROOT, 'bench', 'results');
const only = options.only ? new Set(options.only.split(',').map((n) => Number(n.trim()))) : undefined;
const wanted = (id: number) => !only || only.has(id);

/**
 * How the server is started: the built JavaScript, or the sources through tsx. The emulator is always its
 * package's bin (TypeScript through tsx; it is not part of the server's build).
 */
const EMULATOR_BIN = 'packages/clerk-emulator/bin/clerk-emulator.js';
const launch =
  entry === 'dist'
    ? { nodeArgs: [] as string[], server: 'dist/main.js' }
    : { nodeArgs: ['--import', 'tsx'], server: 'src/main.ts' };

// ---------------------------------------------------------------- processes

interface Stack {
  emulator: Child;
  emu: EmulatorClient;
  server: Child;
  serverUrl: string;
  publicKeyPem: string;
}

/** The server's environment: ours only, so a stray CLERK_… or CACHE_… in the caller's shell cannot skew a run. */
function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(CLERK_|CACHE_|WEBHOOK_|GRAPHIQL_|INTROSPECTION_|CORS_|LOG_LEVEL$|PORT$|HOST$|NODE_ENV$)/.test(key))
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

async function startStack(serverNodeArgs: string[]): Promise<Stack> {
  const [emulatorPort, serverPort] = [await freePort(), await freePort()];
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const serverUrl = `http://127.0.0.1:${serverPort}`;
  const emulator = startNode({
    name: 'emulator',
    nodeArgs: [],
    script: EMULATOR_BIN,
    args: [
      '--port',
      String(emulatorPort),
      '--seed',
      'demo',
      '--latency-ms',
      String(EMULATOR_LATENCY_MS),
      '--secret-key',
      SECRET_KEY,
      '--webhook-url',
      `${serverUrl}/webhooks/clerk`,
      '--webhook-secret',
      webhookSecret,
    ],
    cwd: ROOT,
    echo: options.echo,
  });
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  await waitForHttp(`${emulatorUrl}/__emulator`, emulator);
  const emu = new EmulatorClient(emulatorUrl, SECRET_KEY);
  const { public_key_pem: publicKeyPem } = await emu.info();

  const server = startNode({
    name: 'server',
    nodeArgs: serverNodeArgs,
    script: launch.server,
    env: serverEnv({
      NODE_ENV: 'production',
      PORT: String(serverPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      CLERK_SECRET_KEY: SECRET_KEY,
      CLERK_API_URL: emulatorUrl,
      CLERK_JWT_KEY: publicKeyPem,
      CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
    }),
    cwd: ROOT,
    echo: options.echo,
  });
  await waitForHttp(`${serverUrl}/readyz`, server);
  return { emulator, emu, server, serverUrl, publicKeyPem };
}

async function startCeiling(nodeArgs: string[]): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = startNode({
    name: 'ceiling',
    nodeArgs,
    script: 'bench/ceiling-server.mjs',
    env: serverEnv({ NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1' }),
    cwd: ROOT,
    echo: options.echo,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child);
  return { child, url };
}

// ---------------------------------------------------------------- load

const TEAM_FIELDS =
  'fromCache totalCount members { userId firstName lastName email imageUrl role createdAt }';
const PENDING_FIELDS = 'pendingInvitations { id email role createdAt }';

function teamQuery(
  organizationId: string,
  args: { limit?: number; offset?: number; includePending?: boolean } = {},
) {
  const limit = args.limit ?? 20;
  const offset = args.offset ?? 0;
  const pending = args.includePending === true;
  const query =
    'query TeamPage($id: ID!, $limit: Int!, $offset: Int!, $includePending: Boolean!) {\n' +
    '  organization(id: $id) {\n' +
    `    members(limit: $limit, offset: $offset, includePending: $includePending) { ${TEAM_FIELDS}${pending ? ` ${PENDING_FIELDS}` : ''} }\n` +
    '  }\n}';
  return JSON.stringify({
    query,
    operationName: 'TeamPage',
    variables: { id: organizationId, limit, offset, includePending: pending },
  });
}

const CEILING_BODY = JSON.stringify({ query: '{ __typename }' });

function headers(token: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
    authorization: `Bearer ${token}`,
  };
}

/**
 * Runs one scenario in a fresh load worker. `beforeMeasure` runs between the warm-up and the measured period (reset
 * counters, take snapshots, start background writes); the measured run starts only when it has finished.
 */
async function runLoad(
  scenario: LoadScenario,
  beforeMeasure: () => Promise<void> = async () => {},
): Promise<LoadResult> {
  const worker = forkNode({
    name: `load:${scenario.name}`,
    nodeArgs: ['--import', 'tsx'],
    script: 'bench/load-worker.ts',
    cwd: ROOT,
  });
  const expectedSeconds =
    (scenario.warmup?.durationSeconds ?? 0) +
    (scenario.durationSeconds ?? 0) +
    (scenario.amount ? 30 : 0) +
    (scenario.warmup?.amount ? 30 : 0);
  const deadlineMs = (expectedSeconds + 60) * 1000;
  try {
    return await new Promise<LoadResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`load worker did not finish within ${deadlineMs} ms`)),
        deadlineMs,
      );
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        fn();
      };
      worker.process.on('message', (message: WorkerToParent) => {
        if (message.type === 'warmed') {
          beforeMeasure().then(
            () => worker.process.send({ type: 'measure' } satisfies ParentToWorker),
            (error: unknown) => settle(() => reject(error)),
          );
        } else if (message.type === 'result') {
          settle(() => resolve(message.result));
        } else {
          settle(() => reject(new Error(`load worker: ${message.message}`)));
        }
      });
      // A result sent just before exiting may be delivered after the exit event: give it a moment.
      void worker.exited.then(({ code, signal }) =>
        setTimeout(
          () =>
            settle(() =>
              reject(
                new Error(`load worker exited (${code ?? signal}) without a result:\n${worker.output()}`),
              ),
            ),
          500,
        ),
      );
      worker.process.send({ type: 'run', scenario } satisfies ParentToWorker);
    });
  } finally {
    await worker.stop(2000);
  }
}

async function runMemoryProbe(request: MemoryRequest): Promise<MemoryResult> {
  const probe = forkNode({
    name: 'memory',
    nodeArgs: ['--expose-gc', '--import', 'tsx'],
    script: 'bench/memory.ts',
    cwd: ROOT,
  });
  try {
    return await new Promise<MemoryResult>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('memory probe did not finish within 240 s')), 240_000);
      probe.process.on('message', (message: MemoryToParent) => {
        clearTimeout(timer);
        if (message.type === 'result') resolve(message.result);
        else reject(new Error(`memory probe: ${message.message}`));
      });
      void probe.exited.then(({ code, signal }) =>
        setTimeout(() => {
          clearTimeout(timer);
          reject(new Error(`memory probe exited (${code ?? signal}) without a result:\n${probe.output()}`));
        }, 500),
      );
      probe.process.send(request);
    });
  } finally {
    await probe.stop(2000);
  }
}

// ---------------------------------------------------------------- server observations

async function cacheReads(serverUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${serverUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  const reads = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^team_cache_reads_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    reads.set(`${labels.part}:${labels.outcome}`, Number(match[2]));
  }
  return reads;
}

function diff(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

function clerkReads(counters: Record<string, number>) {
  const memberships = counters[MEMBERSHIPS_ROUTE] ?? 0;
  const invitations = counters[INVITATIONS_ROUTE] ?? 0;
  return { memberships, invitations, total: memberships + invitations };
}

function clerkCallsText(counters: Record<string, number>): string {
  const reads = clerkReads(counters);
  return `${reads.total} (${reads.memberships} memberships, ${reads.invitations} invitations)`;
}

/** Fails fast when the stack does not answer a team query correctly; a benchmark of errors measures nothing. */
async function checkQuery(serverUrl: string, token: string, body: string, what: string): Promise<void> {
  const response = await fetch(`${serverUrl}/graphql`, {
    method: 'POST',
    headers: headers(token),
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status !== 200 || text.includes('"errors"') || !text.includes('"members"')) {
    throw new Error(`sanity check (${what}) failed: HTTP ${response.status} ${text.slice(0, 500)}`);
  }
}

function errorCount(result: LoadResult): number {
  return result.non2xx + result.socketErrors + result.graphqlErrors;
}

// ---------------------------------------------------------------- fixtures

interface Fixtures {
  benchUserId: string;
  churnUserId: string;
  hitOrg: string;
  deepOrg: string;
  herdOrg: string;
  churnOrg: string;
  coldOrgs: string[];
  coldWarmupOrgs: string[];
  tokens: { hit: string; deep: string; herd: string; churn: string; cold: string };
}

async function createFixtures(emu: EmulatorClient, needs: (id: number) => boolean): Promise<Fixtures> {
  const started = Date.now();
  const benchUserId = await emu.createUser('bench.user@bench.test', 'Bench', 'User');
  const churnUserId = await emu.createUser('churn.target@bench.test', 'Churn', 'Target');
  const org = async (name: string, members: number, extra: [string, string][] = []) => {
    const id = await emu.createOrganization(name, members);
    for (const [userId, role] of [[benchUserId, 'org:admin'] as [string, string], ...extra]) {
      await emu.addMembership(id, userId, role);
    }
    return id;
  };
  const hitOrg = await org('Bench Hit', 50);
  // Pending invitations for scenario 3, through the Clerk API (webhooks go to the server; nothing is cached yet).
  await Promise.all(
    Array.from({ length: 5 }, (_, i) => emu.createInvitation(hitOrg, `invitee${i}@bench.test`, benchUserId)),
  );
  const deepOrg = needs(4) ? await org('Bench Deep', mode.deepMembers - 1) : hitOrg;
  const herdOrg = await org('Bench Herd', 20);
  const churnOrg = await org('Bench Churn', 50, [[churnUserId, 'org:member']]);
  const coldCount = needs(5) ? mode.coldOrganizations + mode.coldWarmupOrganizations : 0;
  const cold = await inPool(
    Array.from({ length: coldCount }, (_, i) => i),
    8,
    (i) => org(`Bench Cold ${i}`, 20),
  );
  await emu.webhooksSettled();
  const [hit, deep, herd, churn, coldToken] = await Promise.all([
    emu.mintToken(benchUserId, hitOrg),
    emu.mintToken(benchUserId, deepOrg),
    emu.mintToken(benchUserId, herdOrg),
    emu.mintToken(benchUserId, churnOrg),
    // No active organization: each cold organization is authorized through its (cold) member list.
    emu.mintToken(benchUserId),
  ]);
  log(`fixtures ready in ${Date.now() - started} ms (${coldCount} cold organizations)`);
  return {
    benchUserId,
    churnUserId,
    hitOrg,
    deepOrg,
    herdOrg,
    churnOrg,
    coldOrgs: cold.slice(0, mode.coldOrganizations),
    coldWarmupOrgs: cold.slice(mode.coldOrganizations),
    tokens: { hit, deep, herd, churn, cold: coldToken },
  };
}

// ---------------------------------------------------------------- scenarios

interface Outcome {
  rows: ScenarioRow[];
  raw: Record<string, unknown>;
  ceiling?: LoadResult;
  hit?: LoadResult;
  cold?: LoadResult;
  coldDirectP50?: number | undefined;
  herd?: { calls: number; expected: number; errors: number };
  churn?: { errors: number };
  memory?: MemoryResult;
}

function steady(
  name: string,
  url: string,
  token: string,
  body: string,
  connections = HIT_CONNECTIONS,
): LoadScenario {
  return {
    name,
    url: `${url}/graphql`,
    headers: headers(token),
    bodies: [body],
    connections,
    durationSeconds: mode.measureSeconds,
    warmup: { durationSeconds: mode.warmupSeconds },
    timeoutSeconds: 10,
  };
}

/** Runs a steady scenario with the emulator counters reset and the cache metrics read around the measured period. */
async function measured(
  stack: Stack,
  scenario: LoadScenario,
  extra?: { start(): void; stop(): Promise<void> },
) {
  let before = new Map<string, number>();
  const result = await runLoad(scenario, async () => {
    await stack.emu.resetCounters();
    before = await cacheReads(stack.serverUrl);
    extra?.start();
  });
  const counters = await stack.emu.counters();
  await extra?.stop();
  const reads = diff(await cacheReads(stack.serverUrl), before);
  return { result, counters, reads };
}

async function scenario(
  outcome: Outcome,
  id: number,
  work: (row: (partial: Omit<ScenarioRow, 'id' | 'name'>) => void) => Promise<void>,
) {
  const name = SCENARIOS.find(([n]) => n === id)?.[1] ?? `scenario ${id}`;
  if (!wanted(id)) return;
  log(`scenario ${id}: ${name}`);
  const started = Date.now();
  try {
    await work((partial) => outcome.rows.push({ id, name, ...partial }));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`scenario ${id} FAILED: ${message}`);
    outcome.rows.push({ id, name, connections: '–', notes: '', failure: message.split('\n')[0] ?? message });
    outcome.raw[`failure${id}`] = message;
  }
  log(`scenario ${id} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** A steady cache-hit scenario (2, 3, 4): the same load shape, row and raw record, different queries. */
async function cacheHitScenario(
  stack: Stack,
  outcome: Outcome,
  id: number,
  name: 'hit' | 'pending' | 'deep',
  token: string,
  body: string,
  notesFor: (result: LoadResult) => string[] = () => [],
) {
  await scenario(outcome, id, async (row) => {
    const { result, counters, reads } = await measured(stack, steady(name, stack.serverUrl, token, body));
    if (name === 'hit') outcome.hit = result;
    outcome.raw[name] = { result, counters, cacheReads: reads };
    row({
      connections: String(HIT_CONNECTIONS),
      ...statsOf(result),
      clerkCalls: clerkCallsText(counters),
      notes: [
        ...notesFor(result),
        `fromCache ${result.fromCacheTrue}/${result.responses}`,
        ...errorNotes(result),
      ].join('; '),
    });
  });
}

function statsOf(result: LoadResult) {
  return {
    requestsPerSecond: result.requestsPerSecond,
    p50: result.latency.p50,
    p97_5: result.latency.p97_5,
    p99: result.latency.p99,
    errors: errorCount(result),
  };
}

function errorNotes(result: LoadResult): string[] {
  const errors = errorCount(result);
  if (errors === 0) return [];
  return [
    `errors: ${result.non2xx} non-2xx, ${result.socketErrors} socket (${result.timeouts} timeouts), ${result.graphqlErrors} GraphQL`,
    ...(result.errorSamples[0] ? [`e.g. ${result.errorSamples[0].slice(0, 160)}`] : []),
  ];
}

async function runAll(
  stack: Stack,
  fixtures: Fixtures,
  ceilingUrl: string | undefined,
  ceiling: Child | undefined,
) {
  const outcome: Outcome = { rows: [], raw: {} };
  const { serverUrl, emu } = stack;
  const { tokens } = fixtures;
  const hitBody = teamQuery(fixtures.hitOrg);
  const pendingBody = teamQuery(fixtures.hitOrg, { includePending: true });
  const deepBody = teamQuery(fixtures.deepOrg, { offset: mode.deepMembers - 20 });

  // Warm the organizations the steady scenarios read (and check that the answers are right).
  await checkQuery(serverUrl, tokens.hit, hitBody, 'hit');
  await checkQuery(serverUrl, tokens.hit, pendingBody, 'includePending');
  if (wanted(4)) await checkQuery(serverUrl, tokens.deep, deepBody, 'deep page');
  await checkQuery(serverUrl, tokens.churn, teamQuery(fixtures.churnOrg), 'churn');

  await scenario(outcome, 1, async (row) => {
    if (!ceilingUrl) throw new Error('the ceiling server was not started');
    const { result } = await measured(stack, steady('ceiling', ceilingUrl, tokens.hit, CEILING_BODY));
    outcome.ceiling = result;
    outcome.raw.ceiling = result;
    row({
      connections: String(HIT_CONNECTIONS),
      ...statsOf(result),
      clerkCalls: '–',
      notes: [...errorNotes(result)].join('; '),
    });
  });
  await ceiling?.stop();

  await cacheHitScenario(stack, outcome, 2, 'hit', tokens.hit, hitBody, (result) =>
    outcome.ceiling
      ? [`${((result.requestsPerSecond / outcome.ceiling.requestsPerSecond) * 100).toFixed(1)} % of ceiling`]
      : [],
  );
  await cacheHitScenario(stack, outcome, 3, 'pending', tokens.hit, pendingBody);
  await cacheHitScenario(stack, outcome, 4, 'deep', tokens.deep, deepBody, () => [
    `${mode.deepMembers.toLocaleString('en-US')} members, offset ${mode.deepMembers - 20}`,
  ]);

  await scenario(outcome, 5, async (row) => {
    const scenario: LoadScenario = {
      name: 'cold',
      url: `${serverUrl}/graphql`,
      headers: headers(tokens.cold),
      bodies: fixtures.coldOrgs.map((id) => teamQuery(id)),
      distinct: true,
      connections: mode.coldConnections,
      amount: fixtures.coldOrgs.length,
      warmup: {
        amount: fixtures.coldWarmupOrgs.length,
        bodies: fixtures.coldWarmupOrgs.map((id) => teamQuery(id)),
      },
      timeoutSeconds: 10,
    };
    // What a direct client sees from the emulator (its own work on top of the fixed latency), sequentially.
    const direct = new Float64Array(Math.min(fixtures.coldWarmupOrgs.length, mode.name === 'full' ? 10 : 4));
    for (let i = 0; i < direct.length; i++) {
      const started = performance.now();
      await emu.listMemberships(fixtures.coldWarmupOrgs[i] ?? '');
      direct[i] = performance.now() - started;
    }
    const directP50 = direct.length ? (direct.sort()[Math.ceil(direct.length / 2) - 1] ?? 0) : undefined;
    const { result, counters, reads } = await measured(stack, scenario);
    outcome.cold = result;
    outcome.coldDirectP50 = directP50;
    outcome.raw.cold = { result, counters, cacheReads: reads };
    const overhead = result.latency.p50 - EMULATOR_LATENCY_MS;
    row({
      connections: String(mode.coldConnections),
      ...statsOf(result),
      clerkCalls: clerkCallsText(counters),
      notes: [
        `${result.responses} distinct orgs (21 members each)`,
        `overhead p50 − ${EMULATOR_LATENCY_MS} ms = ${overhead.toFixed(2)} ms`,
        ...(directP50 !== undefined
          ? [
              `a direct read from the emulator takes ${directP50.toFixed(2)} ms (p50 of ${direct.length} sequential)`,
            ]
          : []),
        `fromCache:false ${result.fromCacheFalse}/${result.responses}`,
        ...errorNotes(result),
      ].join('; '),
    });
  });

  await scenario(outcome, 6, async (row) => {
    const scenario: LoadScenario = {
      name: 'herd',
      url: `${serverUrl}/graphql`,
      headers: headers(tokens.herd),
      bodies: [teamQuery(fixtures.herdOrg)],
      connections: mode.herdRequests,
      amount: mode.herdRequests,
      timeoutSeconds: 20,
    };
    const { result, counters, reads } = await measured(stack, scenario);
    const calls = clerkReads(counters);
    const expected = Math.ceil(21 / PAGE_SIZE);
    outcome.herd = { calls: calls.memberships, expected, errors: errorCount(result) };
    outcome.raw.herd = { result, counters, cacheReads: reads };
    row({
      connections: String(mode.herdRequests),
      ...statsOf(result),
      clerkCalls: clerkCallsText(counters),
      notes: [
        `${result.responses} responses; membership reads ${calls.memberships} (one read sequence = ${expected})`,
        'one freshly minted token, not yet verified by the server',
        `cache: ${Object.entries(reads)
          .filter(([key]) => key.startsWith('members:'))
          .map(([key, n]) => `${key.slice(8)} ${n}`)
          .join(', ')}`,
        ...errorNotes(result),
      ].join('; '),
    });
  });

  await scenario(outcome, 7, async (row) => {
    const writes = { sent: 0, ok: 0, failed: 0, inFlight: 0, firstError: '' };
    let timer: NodeJS.Timeout | undefined;
    let measureStart = 0;
    const pending = new Set<Promise<void>>();
    const churn = {
      start() {
        measureStart = Date.now();
        timer = setInterval(() => {
          if (writes.inFlight >= 8) return; // bounded: a slow emulator must not pile up writes
          const role = writes.sent % 2 === 0 ? 'org:admin' : 'org:member';
          writes.sent++;
          writes.inFlight++;
          const write = emu
            .updateMembershipRole(fixtures.churnOrg, fixtures.churnUserId, role)
            .then(
              () => {
                writes.ok++;
              },
              (error: unknown) => {
                writes.failed++;
                writes.firstError ||= String(error);
              },
            )
            .finally(() => {
              writes.inFlight--;
              pending.delete(write);
            });
          pending.add(write);
        }, 100);
      },
      async stop() {
        clearInterval(timer);
        await Promise.all([...pending]);
      },
    };
    const { result, counters, reads } = await measured(
      stack,
      steady('churn', serverUrl, tokens.churn, teamQuery(fixtures.churnOrg)),
      churn,
    );
    await emu.webhooksSettled();
    // Let the server's debounced refresh-ahead read (250 ms + the read) finish before the next scenario counts calls.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const deliveries = (await emu.deliveries()).filter(
      (d) => d.at >= measureStart && d.url.startsWith(serverUrl),
    );
    const delivered = deliveries.filter((d) => d.status !== null && d.status >= 200 && d.status < 300).length;
    const hits = reads['members:hit'] ?? 0;
    const roster = Object.entries(reads)
      .filter(([key]) => key.startsWith('members:'))
      .reduce((sum, [, n]) => sum + n, 0);
    const sampled = result.fromCacheTrue + result.fromCacheFalse;
    outcome.churn = { errors: errorCount(result) };
    outcome.raw.churn = {
      result,
      counters,
      cacheReads: reads,
      writes,
      deliveries: deliveries.length,
      delivered,
    };
    row({
      connections: String(HIT_CONNECTIONS),
      ...statsOf(result),
      clerkCalls: clerkCallsText(counters),
      notes: [
        `hit ratio ${sampled ? ((100 * result.fromCacheTrue) / sampled).toFixed(1) : '–'} % of responses fromCache ` +
          `(cache metrics: ${roster ? ((100 * hits) / roster).toFixed(1) : '–'} % of roster reads hit)`,
        `${writes.ok}/${writes.sent} role writes, ${delivered}/${deliveries.length} webhooks accepted`,
        ...(writes.failed ? [`write error: ${writes.firstError.slice(0, 120)}`] : []),
        ...errorNotes(result),
      ].join('; '),
    });
  });

  await scenario(outcome, 8, async (row) => {
    const started = Date.now();
    const organizationIds = await inPool(
      Array.from({ length: mode.memoryOrganizations }, (_, i) => i),
      4,
      (i) => emu.createOrganization(`Bench Memory ${i}`, mode.memoryMembersPerOrganization),
    );
    const warmupOrganizationIds = await inPool(
      Array.from({ length: mode.memoryConcurrency }, (_, i) => i),
      4,
      (i) => emu.createOrganization(`Bench Memory Warmup ${i}`, 1),
    );
    log(`memory: ${organizationIds.length} organizations created in ${Date.now() - started} ms`);
    await emu.resetCounters();
    const result = await runMemoryProbe({
      type: 'run',
      entry,
      apiUrl: emu.url,
      secretKey: SECRET_KEY,
      warmupOrganizationIds,
      organizationIds,
      concurrency: mode.memoryConcurrency,
    });
    const counters = await emu.counters();
    outcome.memory = result;
    outcome.raw.memory = { result, counters };
    row({
      connections: String(mode.memoryConcurrency),
      requestsPerSecond: undefined,
      errors: result.members === mode.memoryOrganizations * mode.memoryMembersPerOrganization ? 0 : 1,
      clerkCalls: clerkCallsText(counters),
      notes:
        `**${result.bytesPerMember.toFixed(0)} B/member**: heap +${((result.heapUsedAfter - result.heapUsedBefore) / 2 ** 20).toFixed(1)} MiB ` +
        `for ${result.members.toLocaleString('en-US')} members in ${result.organizations.toLocaleString('en-US')} orgs ` +
        `(cache counts ${result.cachedMembers.toLocaleString('en-US')}); read in ${result.readSeconds.toFixed(1)} s; ` +
        `Clerk calls include ${mode.memoryConcurrency} warm-up reads`,
    });
  });

  return outcome;
}

function targetsOf(outcome: Outcome): { ratio: number | undefined; targets: TargetRow[] } {
  const ratio =
    outcome.ceiling && outcome.hit
      ? outcome.hit.requestsPerSecond / outcome.ceiling.requestsPerSecond
      : undefined;
  const overhead = outcome.cold ? outcome.cold.latency.p50 - EMULATOR_LATENCY_MS : undefined;
  const targets: TargetRow[] = [
    {
      target: 'cache-hit throughput ≥ 0.9 × ceiling',
      measured:
        ratio === undefined
          ? 'n/a'
          : `${ratio.toFixed(3)} × (${Math.round(outcome.hit?.requestsPerSecond ?? 0)} vs ${Math.round(outcome.ceiling?.requestsPerSecond ?? 0)} req/s)`,
      pass: ratio === undefined ? null : ratio >= 0.9,
    },
    {
      target: `cache-hit p99 ≤ 10 ms at ${HIT_CONNECTIONS} connections`,
      measured: outcome.hit
        ? `${outcome.hit.latency.p99.toFixed(2)} ms` +
          (outcome.ceiling ? ` (the ceiling's own p99: ${outcome.ceiling.latency.p99.toFixed(2)} ms)` : '')
        : 'n/a',
      pass: outcome.hit ? outcome.hit.latency.p99 <= 10 : null,
    },
    {
      target: `miss overhead ≤ 5 ms (p50 − ${EMULATOR_LATENCY_MS} ms)`,
      measured:
        overhead === undefined
          ? 'n/a'
          : `${overhead.toFixed(2)} ms` +
            (outcome.coldDirectP50 !== undefined
              ? ` (a direct emulator read: ${outcome.coldDirectP50.toFixed(2)} ms, i.e. ` +
                `${((outcome.cold?.latency.p50 ?? 0) - outcome.coldDirectP50).toFixed(2)} ms over it)`
              : ''),
      pass: overhead === undefined ? null : overhead <= 5,
    },
    {
      target: 'herd → exactly one Clerk membership read sequence',
      measured: outcome.herd
        ? `${outcome.herd.calls} membership read(s), expected ${outcome.herd.expected}; ${outcome.herd.errors} errors`
        : 'n/a',
      pass: outcome.herd ? outcome.herd.calls === outcome.herd.expected && outcome.herd.errors === 0 : null,
    },
    {
      target: '≤ 1 KiB heap per cached member',
      measured: outcome.memory ? `${outcome.memory.bytesPerMember.toFixed(0)} B` : 'n/a',
      pass: outcome.memory ? outcome.memory.bytesPerMember <= 1024 : null,
    },
    {
      target: 'churn → zero errors',
      measured: outcome.churn ? `${outcome.churn.errors} errors` : 'n/a',
      pass: outcome.churn ? outcome.churn.errors === 0 : null,
    },
  ];
  return { ratio, targets };
}

// ---------------------------------------------------------------- main

function stamp(date: Date) {
  return date.toISOString().replace(/[:.]/g, '-');
}

async function benchmark(): Promise<number> {
  const date = new Date();
  // Taken now, not at the end: the commit and the state of src/ the server was built from (src may change meanwhile).
  const host = machine(ROOT);
  const loadBefore = loadavg()[0] ?? 0;
  const stack = await startStack(launch.nodeArgs);
  log(`emulator ${stack.emu.url}, server ${stack.serverUrl} (${launch.server})`);
  const ceiling = wanted(1) ? await startCeiling(launch.nodeArgs) : undefined;
  const fixtures = await createFixtures(stack.emu, wanted);
  const outcome = await runAll(stack, fixtures, ceiling?.url, ceiling?.child);
  await stopAll();

  const { ratio, targets } = targetsOf(outcome);
  const rows = outcome.rows.sort((a, b) => a.id - b.id);
  const markdown = renderMarkdown({
    title: 'Benchmark',
    machine: host,
    mode: mode.name,
    date,
    settings:
      `Emulator latency ${EMULATOR_LATENCY_MS} ms; server \`node ${[...launch.nodeArgs, launch.server].join(' ')}\` with NODE_ENV=production, ` +
      `LOG_LEVEL=warn; load from autocannon in its own process; warm-up ${mode.warmupSeconds} s, measured ${mode.measureSeconds} s ` +
      'per steady scenario. Latency percentiles from every response (sub-ms); errors = non-2xx + socket errors/timeouts + ' +
      'responses with GraphQL `errors`; Clerk calls = membership/invitation list reads the emulator served during the measured period.' +
      (mode.name === 'smoke' ? ' **Smoke mode: numbers are not meaningful.**' : ''),
    rows,
    ratio,
    targets,
    load: `load average (1 min) ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after`,
  });
  process.stdout.write(`\n${markdown}\n`);

  mkdirSync(outDir, { recursive: true });
  const json = JSON.stringify(
    { date, mode, machine: host, entry, rows, ratio, targets, raw: outcome.raw },
    null,
    2,
  );
  const base = join(outDir, `bench-${stamp(date)}-${mode.name}`);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.json`, json);
  writeFileSync(join(outDir, 'latest.md'), markdown);
  writeFileSync(join(outDir, 'latest.json'), json);
  log(`wrote ${base}.md/.json and latest.md/.json`);
  return rows.some((row) => row.failure) ? 1 : 0;
}

async function profile(): Promise<number> {
  const date = new Date();
  const host = machine(ROOT);
  const profileDir = join(outDir, 'profiles');
  mkdirSync(profileDir, { recursive: true });
  const startedAt = Date.now();
  const profileFlags = [...launch.nodeArgs, '--cpu-prof', '--cpu-prof-dir', profileDir];
  const window = { start: 0, end: 0 };
  const markStart = async () => {
    window.start = Date.now();
  };
  let target: Child;
  let result: LoadResult;
  let what: string;
  if (options['profile-ceiling']) {
    // The same load against the bare Yoga ceiling, to tell Yoga's own costs from the server's.
    what = 'ceiling (bare Yoga)';
    const ceiling = await startCeiling(profileFlags);
    target = ceiling.child;
    log(`profiling the ceiling (${mode.warmupSeconds} s warm-up, ${mode.measureSeconds} s measured)`);
    result = await runLoad(steady('ceiling', ceiling.url, 'none', CEILING_BODY), markStart);
  } else {
    what = 'server, cache hit';
    const stack = await startStack(profileFlags);
    target = stack.server;
    const benchUserId = await stack.emu.createUser('bench.user@bench.test', 'Bench', 'User');
    const org = await stack.emu.createOrganization('Bench Hit', 50);
    await stack.emu.addMembership(org, benchUserId, 'org:admin');
    const token = await stack.emu.mintToken(benchUserId, org);
    const body = teamQuery(org);
    await checkQuery(stack.serverUrl, token, body, 'hit');
    log(
      `profiling the cache-hit scenario (${mode.warmupSeconds} s warm-up, ${mode.measureSeconds} s measured)`,
    );
    result = await runLoad(steady('hit', stack.serverUrl, token, body), markStart);
  }
  window.end = Date.now();
  // The profile ends when the process exits, a few ms after this (graceful shutdown): close enough to locate the
  // measured period from the end of the profile.
  const stoppedAt = Date.now();
  await target.stop(20_000);
  await stopAll();

  const files = readdirSync(profileDir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(profileDir, name))
    .filter((file) => statSync(file).mtimeMs >= startedAt)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const file = files[0];
  if (!file) throw new Error(`the ${what} process wrote no .cpuprofile to ${profileDir}`);
  // Only the measured period: start-up and warm-up (module compilation, first-time JIT) are left out.
  const summary = summarizeProfile(file, ROOT, 15, {
    fromEndMs: stoppedAt - window.start,
    toEndMs: stoppedAt - window.end,
  });
  const markdown = [
    `## Profile: ${what}`,
    '',
    `${date.toISOString()} · ${host.cpus} × ${host.cpuModel} · Node ${process.version} · commit ${host.commit} · ` +
      `under --cpu-prof: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.latency.p50.toFixed(2)} ms, ` +
      `p99 ${result.latency.p99.toFixed(2)} ms, ${errorCount(result)} errors (profiling slows it down)`,
    '',
    profileMarkdown(summary, ROOT),
    '',
  ].join('\n');
  process.stdout.write(`\n${markdown}\n`);
  const kind = options['profile-ceiling'] ? 'profile-ceiling' : 'profile';
  writeFileSync(join(outDir, `${kind}-${stamp(date)}.md`), markdown);
  writeFileSync(join(outDir, `${kind}-latest.md`), markdown);
  writeFileSync(
    join(outDir, `${kind}-latest.json`),
    JSON.stringify({ date, what, summary, result }, null, 2),
  );
  return 0;
}

async function main() {
  if (entry === 'dist' && !existsSync(join(ROOT, 'dist', 'main.js'))) {
    throw new Error(
      'dist/main.js is missing: run `npm run build` first (npm run bench does), or pass --entry src',
    );
  }
  const code = options.profile || options['profile-ceiling'] ? await profile() : await benchmark();
  process.exitCode = code;
}

const hardLimit = setTimeout(
  () => {
    log('the run exceeded its hard time limit (20 min); stopping');
    void stopAll().finally(() => process.exit(1));
  },
  20 * 60 * 1000,
);
hardLimit.unref();

main()
  .catch((error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
