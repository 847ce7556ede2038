/**
 * `npm run soak [-- --duration 180]`: every layer at once, for a bounded time, on loopback. Three server processes
 * share one Redis (redis-server on a free port, started here) with the fast path on (prepared responses), behind
 * an in-process Clerk emulator (50 ms latency) whose webhooks go to replica A. Then, all at the same time:
 *
 * - legitimate load on every replica (autocannon: 20 small organizations' pages, and a 30,000-member
 *   organization's first page and searches) while `CACHE_TTL_SECONDS` is short, so the big roster is re-read
 *   every few seconds;
 * - live subscriptions (`teamChanged` over SSE) on every replica, and webhook churn (a role or profile change
 *   every 200 ms);
 * - Clerk faults in the first third: a full hang long enough to open the circuit breaker, then 5xx bursts, a
 *   partial hang and a 429;
 * - the attacks of issue 19 at a low rate (./lib/soak-attacks.ts): junk requests, anonymous stalled webhook bodies,
 *   unique queries from one member of the big organization, junk session tokens (no CLERK_JWT_KEY: tokens are checked against the JWKS),
 *   and a removed member polling every replica: once with Redis up, once with Redis paused (SIGSTOP) for 10 s.
 *
 * It prints its figures as JSON and exits non-zero if any target fails: a 5xx to any client, a socket error, a
 * settled heap (after full collections, ./lib/settled-heap.ts) that grew by more than half from warm to the end or
 * by more than 10 % (or 16 MiB: one big roster being re-read) in the second half, a breaker that never opened or is
 * still open, junk tokens that cost more than a few JWKS fetches per replica, a stalled body held more than
 * 30 s, an `Origin: null` echoed as allowed, a removed member served later than 3 s after replica A's 2xx to the
 * removal webhook, or a stream with no event after its first. It also reports the legitimate viewers' fast-path
 * hit ratio over a window while the unique queries run. Default 60 s; a few minutes (`--duration 300`) for a real
 * soak; `--smoke` 30 s (what test/bench.test.ts runs).
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClerkClient } from '@clerk/backend';
import autocannon from 'autocannon';
import { type ClusterReplica, startReplicaCluster } from './lib/cluster.js';
import type { LoopStallAnswer } from './lib/loop-stall.js';
import { stopAll } from './lib/processes.js';
import type { HeapAnswer } from './lib/settled-heap.js';
import {
  junkRequests,
  junkTokens,
  removedMemberPolling,
  serverErrors,
  stalledWebhookBodies,
  type Tally,
  uniqueQueries,
} from './lib/soak-attacks.js';
import { openStreams } from './lib/soak-streams.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    replicas: { type: 'string', default: '3' },
    'big-members': { type: 'string', default: '30000' },
    'ttl-seconds': { type: 'string', default: '5' },
    smoke: { type: 'boolean', default: false },
  },
  strict: true,
});
/** `--smoke` (the test's run): every layer and attack for 30 s on a 2,000-member organization; the heap's verdict is
 * printed but not judged (too short to tell a trend). */
const SMOKE = values.smoke === true;
const durationS = SMOKE ? 30 : Math.max(60, Math.min(3600, Number(values.duration) || 60));
const REPLICAS = Math.max(2, Math.min(5, Number(values.replicas) || 3));
const BIG_MEMBERS = SMOKE ? 2000 : Math.max(1000, Number(values['big-members']) || 30_000);
const TTL_SECONDS = Math.max(1, Number(values['ttl-seconds']) || 5);
const SMALL_ORGANIZATIONS = 20;
/** A full hang this long: at CLERK_TIMEOUT_MS=1000, enough timed-out calls to open the circuit, and a probe inside it. */
const LONG_HANG_MS = 6000;
const BREAKER_COOLDOWN_MS = 2000;
/** As long as the pause: a replica that only learns of the removal when Redis is back serves it ~9 s. */
const REDIS_PAUSE_MS = 10_000;
/** The target: no replica serves a removed member later than this after replica A's 2xx. */
const REMOVAL_GRACE_MS = 3000;
const STALLED_BODY_MAX_MS = 30_000;
const MIB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
const at = (fraction: number) => sleep(fraction * durationS * 1000);

/** Asks a replica's preload (./lib/settled-heap.ts, ./lib/loop-stall.ts) over IPC; one question at a time. */
async function ask<T extends { type: string }>(replica: ClusterReplica, type: T['type']): Promise<T> {
  const child = replica.child.process;
  const answer = (async () => {
    for (;;) {
      const [message] = (await once(child, 'message')) as [T];
      if (message?.type === type) return message;
    }
  })();
  child.send({ type });
  return answer;
}

/** Each replica's heap after full collections: the smaller of two readings a second apart (a re-read in flight). */
async function settledHeaps(replicas: readonly ClusterReplica[]): Promise<number[]> {
  const heaps: number[] = [];
  for (const replica of replicas) {
    const first = (await ask<HeapAnswer>(replica, 'heap')).heapUsed;
    await sleep(1000);
    heaps.push(Math.min(first, (await ask<HeapAnswer>(replica, 'heap')).heapUsed));
  }
  return heaps;
}

/** A /metrics series summed over the label sets that match `labels` (a substring of the braces' content). */
async function metric(adminUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{([^}]*)\})? ([\d.e+-]+)$/.exec(line);
    if (match?.[1] === name && (match[2] ?? '').includes(labels)) sum += Number(match[3]);
  }
  return sum;
}

const OUTCOMES = ['hit', 'miss', 'retired', 'refused', 'stored'] as const;

/** `prepared_responses_total` by outcome, summed over the replicas; since `before` when given. */
async function preparedOutcomes(
  replicas: readonly ClusterReplica[],
  before: Record<string, number> = {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const outcome of OUTCOMES) {
    counts[outcome] =
      (await sumOver(replicas, 'prepared_responses_total', `outcome="${outcome}"`)) - (before[outcome] ?? 0);
  }
  return counts;
}

const sumOver = async (replicas: readonly ClusterReplica[], name: string, labels = '') =>
  (await Promise.all(replicas.map((replica) => metric(replica.adminUrl, name, labels)))).reduce(
    (a, b) => a + b,
    0,
  );

async function main() {
  const cluster = await startReplicaCluster({
    replicas: REPLICAS,
    latencyMs: 50,
    ipc: true,
    extraNodeArgs: [
      '--expose-gc',
      '--import',
      './bench/lib/settled-heap.ts',
      '--import',
      './bench/lib/loop-stall.ts',
    ],
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      // Tokens checked against Clerk's JWKS (through the upstream policy), as without a configured key.
      CLERK_JWT_KEY: '',
      CLERK_TIMEOUT_MS: '1000',
      CLERK_BREAKER_COOLDOWN_MS: String(BREAKER_COOLDOWN_MS),
      CACHE_TTL_SECONDS: String(TTL_SECONDS),
    },
  });
  const { emulator, replicas } = cluster;
  const urls = replicas.map((replica) => replica.url);
  const adminUrls = replicas.map((replica) => replica.adminUrl);
  const redisPid = cluster.redis?.pid;
  try {
    const tokenOf = (userId: string, orgId: string) =>
      emulator.mintToken({ userId, orgId, expiresInS: durationS + 600 });
    const organizations = Array.from({ length: SMALL_ORGANIZATIONS }, (_, i) => {
      const org = emulator.store.createOrganization({ name: `Soak ${i}` });
      const members = emulator.store.populate(org.id, 20 + i * 10);
      return { id: org.id, members, token: tokenOf(members[0]?.userId as string, org.id) };
    });
    const big = emulator.store.createOrganization({ name: 'Soak Big' });
    const bigMembers = emulator.store.populate(big.id, BIG_MEMBERS);
    const bigToken = tokenOf(bigMembers[0]?.userId as string, big.id);
    // The unique queries come from a member of the big organization: each prepared answer was built from the
    // snapshot of its moment, and a re-read every TTL period makes a new one (issue 19, item 1).
    const attackerToken = tokenOf(bigMembers[1]?.userId as string, big.id);
    const clerk = createClerkClient({
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      telemetry: { disabled: true },
    });
    // Members with a part to play; churn only touches members 1 and 2 of each organization.
    type Organization = (typeof organizations)[0];
    const [removedOrgA, removedOrgB] = organizations as [Organization, Organization];
    const member = (org: Organization, index: number) => org.members[index]?.userId as string;

    const graphqlErrors: Tally = {};
    let legitResponses = 0;
    const pageQuery = (id: string, args: string) =>
      JSON.stringify({
        query: `{ organization(id: "${id}") { members(${args}) { fromCache stale totalCount members { userId firstName email role } } } }`,
      });
    const request = (token: string, body: string) => ({
      method: 'POST' as const,
      path: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      onResponse: (_status: number, responseBody: string) => {
        legitResponses++;
        if (!responseBody.includes('"errors"')) return;
        const code = /"code":"([A-Z_]+)"/.exec(responseBody)?.[1] ?? 'UNKNOWN';
        graphqlErrors[code] = (graphqlErrors[code] ?? 0) + 1;
      },
    });
    const requests = [
      ...organizations.map(({ id, token }) =>
        request(token, pageQuery(id, 'limit: 20, includePending: true')),
      ),
      request(bigToken, pageQuery(big.id, 'limit: 20')),
      ...['ann', 'smith', 'jo'].map((search) =>
        request(bigToken, pageQuery(big.id, `limit: 20, search: "${search}"`)),
      ),
    ];

    // Warm every organization on every replica (the big one is a 60-page read), then the baseline heaps.
    for (const url of urls) await autocannon({ url, connections: 4, amount: requests.length * 4, requests });
    const heapWarm = await settledHeaps(replicas);
    await Promise.all(replicas.map((replica) => ask<LoopStallAnswer>(replica, 'loop-stall')));
    const jwksBefore = emulator.control.counters()['GET /v1/jwks'] ?? 0;

    let stopping = false;
    const circuitSamples: { at: number; states: number[] }[] = [];
    const sampler = setInterval(() => {
      void Promise.all(
        adminUrls.map((adminUrl) => metric(adminUrl, 'clerk_circuit_state', 'route="memberships"')),
      ).then(
        (states) => circuitSamples.push({ at: Date.now(), states }),
        () => {},
      );
    }, 250);

    const streams = openStreams(
      organizations.slice(3, 3 + 2 * REPLICAS).map((org, i) => ({
        url: urls[i % REPLICAS] as string,
        token: org.token,
        organizationId: org.id,
      })),
    );
    // A change every 200 ms, each through its webhook: role changes in the first 30 % (with the faults), profile
    // changes after it. A role change is a revocation, which retires every prepared response: all along, it
    // would hide what the store keeps alive between two of them (issue 19, item 1).
    let churn = 0;
    const rolesUntil = Date.now() + 0.3 * durationS * 1000;
    const churnLoop = (async () => {
      while (!stopping) {
        const org = organizations[churn % SMALL_ORGANIZATIONS] as Organization;
        const userId = member(org, 1 + (churn % 2));
        const write =
          Date.now() < rolesUntil
            ? clerk.organizations.updateOrganizationMembership({
                organizationId: org.id,
                userId,
                role: churn % 4 < 2 ? 'org:admin' : 'org:member',
              })
            : clerk.users.updateUser(userId, { firstName: `Churn ${churn}` });
        await write.catch(() => undefined); // faults apply to Clerk writes too; churn just goes on
        churn++;
        await sleep(200);
      }
    })();
    // Clerk faults in the first 30 %: the long hang first, then short ones, so later checks run on a healthy Clerk.
    let faults = 0;
    let longHangAt: number | undefined;
    const faultLoop = (async () => {
      const kinds = ['status503', 'hang', 'rateLimit', 'status500'] as const;
      const endsAt = Date.now() + 0.3 * durationS * 1000;
      await sleep(3000);
      while (!stopping && Date.now() < endsAt) {
        const longHang = faults === 0;
        const kind = longHang ? 'hang' : (kinds[faults % kinds.length] as (typeof kinds)[number]);
        longHangAt ??= Date.now();
        emulator.control.injectFault({
          route: 'GET /v1/organizations/{id}/memberships',
          kind,
          fraction: longHang ? 1 : kind === 'hang' ? 0.2 : 0.5,
          retryAfterSeconds: 1,
        });
        faults++;
        await sleep(longHang ? LONG_HANG_MS : 1500);
        emulator.control.clearFaults();
        await sleep(2500);
      }
    })();
    const attacks = {
      junkRequests: junkRequests(urls),
      stalledWebhookBodies: stalledWebhookBodies(urls),
      uniqueQueries: uniqueQueries(urls, attackerToken, big.id),
      junkTokens: junkTokens(urls),
    };

    /** Removes `userId` from `org` while they poll every replica; when replica A answered the webhook 2xx. */
    const removal = async (org: Organization, userId: string) => {
      const poller = removedMemberPolling(urls, tokenOf(userId, org.id), org.id);
      await sleep(1000); // served while still a member: the fast path has their answer prepared
      const removedAt = Date.now();
      await clerk.organizations.deleteOrganizationMembership({ organizationId: org.id, userId });
      /** With Redis paused: when it was let go again (until then every replica must have stopped trusting). */
      return { poller, removedAt, pausedUntil: undefined as number | undefined };
    };
    /**
     * Serves that break a promise: later than 3 s after A's 2xx (there is no window after it), and, while Redis was
     * paused, later than 3 s after the removal (a replica that cannot hear the bus stops trusting within 2 × the
     * heartbeat). Between Redis's return and A's 2xx (Clerk retries a webhook answered 503) the removal is not
     * acknowledged yet, as before any webhook: not counted.
     */
    const servedLateIn = (
      times: number[],
      removedAt: number,
      ackAt: number | undefined,
      pausedUntil?: number,
    ) =>
      times.filter(
        (t) =>
          (ackAt !== undefined && t > ackAt + REMOVAL_GRACE_MS) ||
          (ackAt === undefined && pausedUntil === undefined && t > removedAt + REMOVAL_GRACE_MS) ||
          (pausedUntil !== undefined && t > removedAt + REMOVAL_GRACE_MS && t < pausedUntil),
      ).length;
    const removalReport = async (
      name: string,
      { poller, removedAt, pausedUntil }: Awaited<ReturnType<typeof removal>>,
    ) => {
      const report = await poller.stop();
      const acknowledged = emulator.control
        .deliveries()
        .filter(
          (each) =>
            each.eventType === 'organizationMembership.deleted' &&
            each.at >= removedAt &&
            each.status >= 200 &&
            each.status < 300,
        )
        .map((each) => each.at);
      const ackAt = acknowledged.length > 0 ? Math.min(...acknowledged) : undefined;
      const lastServed = report.servedAt.map((times) => Math.max(removedAt, ...times) - removedAt);
      const servedLate = report.servedAt.map((times) => servedLateIn(times, removedAt, ackAt, pausedUntil));
      return {
        name,
        polls: report.polls,
        statuses: report.statuses,
        webhook2xxAfterMs: ackAt === undefined ? null : ackAt - removedAt,
        redisBackAfterMs: pausedUntil === undefined ? null : pausedUntil - removedAt,
        lastServedAfterRemovalMs: Object.fromEntries(replicas.map((r, i) => [r.name, lastServed[i]])),
        servedLate: Object.fromEntries(replicas.map((r, i) => [r.name, servedLate[i]])),
        fiveXx: serverErrors(report.statuses),
      };
    };

    // The timeline beside the load: a removal with Redis up, the hit-ratio window, the halfway heap, a removal
    // with Redis paused.
    const timeline = (async () => {
      await at(0.33);
      const healthy = await removal(removedOrgA, member(removedOrgA, 10));
      await at(0.07);
      // The fast path's outcomes over a window with Clerk healthy and the attacks on.
      const otherRequests = () =>
        Object.values(attacks).reduce((sum, attack) => sum + attack.sent(), 0) + healthy.poller.sent();
      const outcomesBefore = await preparedOutcomes(replicas);
      const [legitBefore, othersBefore] = [legitResponses, otherRequests()];
      await at(0.1);
      const outcomes = await preparedOutcomes(replicas, outcomesBefore);
      const legit = legitResponses - legitBefore;
      const hitWindow = {
        legitRequests: legit,
        otherRequests: otherRequests() - othersBefore,
        outcomes,
        // Reported, not a target here: every (replica, question) misses once per TTL period, so at a short TTL
        // the ratio also measures throughput (at 100 req/s it cannot pass 86 %). test/prepared-responses covers it.
        victimsHitRatio: Number(((outcomes.hit ?? 0) / Math.max(1, legit)).toFixed(3)),
      };
      const heapHalfway = await settledHeaps(replicas);
      let paused: Awaited<ReturnType<typeof removal>> | undefined;
      if (redisPid) {
        process.kill(redisPid, 'SIGSTOP');
        try {
          await sleep(1000);
          paused = await removal(removedOrgB, member(removedOrgB, 10));
          await sleep(REDIS_PAUSE_MS - 1000);
        } finally {
          process.kill(redisPid, 'SIGCONT');
          if (paused) paused.pausedUntil = Date.now();
        }
      }
      return { healthy, paused, hitWindow, heapHalfway };
    })();

    const loads = await Promise.all(
      urls.map((url) => autocannon({ url, connections: 4, duration: durationS, requests })),
    );
    stopping = true;
    const { healthy, paused, hitWindow, heapHalfway } = await timeline;
    const [junk, stalled, unique, tokens] = await Promise.all([
      attacks.junkRequests.stop(),
      attacks.stalledWebhookBodies.stop(),
      attacks.uniqueQueries.stop(),
      attacks.junkTokens.stop(),
    ]);
    const removals = [await removalReport('Redis up', healthy)];
    if (paused) removals.push(await removalReport(`Redis paused ${REDIS_PAUSE_MS / 1000} s`, paused));
    const live = streams.stop();
    await Promise.all([churnLoop, faultLoop]);
    emulator.control.clearFaults();
    const jwksFetches = (emulator.control.counters()['GET /v1/jwks'] ?? 0) - jwksBefore;
    const loopStalls = await Promise.all(
      replicas.map((replica) => ask<LoopStallAnswer>(replica, 'loop-stall')),
    );
    // Let refresh-ahead and the last reads settle; a few more reads (a probe, if a circuit is still open).
    await sleep(2000 + BREAKER_COOLDOWN_MS);
    for (const url of urls) await autocannon({ url, connections: 2, amount: requests.length, requests });
    const circuitsAtEnd = await Promise.all(
      adminUrls.map((adminUrl) => metric(adminUrl, 'clerk_circuit_state', 'route="memberships"')),
    );
    clearInterval(sampler);
    const heapEnd = await settledHeaps(replicas);

    const stateName = ['closed', 'half-open', 'open'];
    const circuitChanges = replicas.map((_, r) =>
      circuitSamples
        .filter((each, i) => i === 0 || each.states[r] !== circuitSamples[i - 1]?.states[r])
        .map(
          (each) =>
            `${stateName[each.states[r] ?? -1] ?? each.states[r]} at ${((each.at - (longHangAt ?? each.at)) / 1000).toFixed(1)} s`,
        ),
    );
    const breakerOpened = circuitSamples.some((each) => each.states.some((state) => state === 2));
    const sum = (pick: (result: autocannon.Result) => number) =>
      loads.reduce((total, each) => total + pick(each), 0);
    const legit5xx = sum((each) => each['5xx']);
    const socketErrors = sum((each) => each.errors + each.timeouts);
    const fiveXx =
      legit5xx +
      serverErrors(junk.statuses) +
      serverErrors(unique.statuses) +
      serverErrors(tokens.answers) +
      removals.reduce((total, each) => total + each.fiveXx, 0);
    const heapFlat = replicas.map((_, i) => {
      const [warm, mid, end] = [heapWarm[i] as number, heapHalfway[i] as number, heapEnd[i] as number];
      return end <= warm * 1.5 && end <= Math.max(mid * 1.1, mid + 16 * MIB);
    });
    const removedServedLate = removals.reduce(
      (total, each) => total + Object.values(each.servedLate).reduce((a: number, b) => a + (b ?? 0), 0),
      0,
    );
    const checks = {
      noFiveXx: fiveXx === 0,
      noSocketErrors: socketErrors === 0,
      heapFlat: SMOKE || heapFlat.every(Boolean),
      breakerOpenedAndClosed: breakerOpened && circuitsAtEnd.every((state) => state === 0),
      junkTokensCheap: jwksFetches <= 5 * REPLICAS,
      stalledBodiesEndedInSeconds:
        (stalled.heldMsMax ?? 0) <= STALLED_BODY_MAX_MS && stalled.oldestOpenMs <= STALLED_BODY_MAX_MS,
      originNullNotEchoed: junk.originNullEchoed === 0,
      removedMemberNotServed: removedServedLate === 0,
      streamsGetEvents: live.fewestEvents >= 2,
    };
    const report = {
      durationS,
      replicas: REPLICAS,
      bigOrganizationMembers: BIG_MEMBERS,
      cacheTtlSeconds: TTL_SECONDS,
      legit: {
        requests: sum((each) => each.requests.total),
        requestsPerSecond: Math.round(sum((each) => each.requests.average)),
        latencyP50Ms: loads.map((each) => each.latency.p50),
        latencyP99Ms: loads.map((each) => each.latency.p99),
        http2xx: sum((each) => each['2xx']),
        http4xx: sum((each) => each['4xx']),
        http5xx: legit5xx,
        socketErrors,
        graphqlErrors,
      },
      fastPathWindow: hitWindow,
      http5xxAllClients: fiveXx,
      webhookChurnWrites: churn,
      subscriptions: live,
      faultBursts: faults,
      breaker: {
        opened: breakerOpened,
        stateAtEnd: circuitsAtEnd.map((s) => stateName[s] ?? s),
        changes: circuitChanges,
      },
      attacks: {
        junkRequests: junk,
        stalledWebhookBodies: stalled,
        uniqueQueriesFromOneToken: unique,
        junkTokens: { ...tokens, jwksFetches },
        removedMember: removals,
      },
      longestLoopStall: Object.fromEntries(
        replicas.map((replica, i) => [
          replica.name,
          `${loopStalls[i]?.maxStallMs} ms (cpu ${loopStalls[i]?.maxTurnCpuMs} ms)`,
        ]),
      ),
      heapSettled: Object.fromEntries(
        replicas.map((replica, i) => [
          replica.name,
          {
            warm: mib(heapWarm[i] as number),
            halfway: mib(heapHalfway[i] as number),
            end: mib(heapEnd[i] as number),
            growth: `${(((heapEnd[i] as number) / (heapWarm[i] as number) - 1) * 100).toFixed(1)}%`,
            growthSecondHalf: `${(((heapEnd[i] as number) / (heapHalfway[i] as number) - 1) * 100).toFixed(1)}%`,
          },
        ]),
      ),
      checks,
    };
    console.log(JSON.stringify(report, null, 2));
    const failed = Object.entries(checks).filter(([, ok]) => !ok);
    console.log(
      failed.length === 0 ? 'soak: OK' : `soak: FAILED (${failed.map(([name]) => name).join(', ')})`,
    );
    process.exitCode = failed.length === 0 ? 0 : 1;
  } finally {
    if (redisPid) {
      try {
        process.kill(redisPid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await cluster.stop().catch(() => {});
    await stopAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
