/**
 * `npm run bench:subscriptions`: many live team pages on one organization (issue 12). Not a steady-load scenario of
 * bench/run.ts (its unit is an open stream and an event, not requests per second), so a script of its own, on the
 * same building blocks, each part in a process of its own on loopback:
 *   - the Clerk emulator (its bin, 200 ms latency like the real Clerk, Svix-signed webhooks to the server);
 *   - the server (bench/subscriptions-server.ts: `startServer` from src/ through tsx, NODE_ENV=production,
 *     LOG_LEVEL=warn, tokens verified with CLERK_JWT_KEY, --expose-gc so its heap can be read after a full GC);
 *   - this process: N subscribers (one member each, their own token: the per-user limit is not in the way), each a
 *     plain `fetch` reading Yoga's SSE, selecting the team page (`members(limit: 20, includePending: true)`).
 *
 * It measures: the server's heap per open stream (after a full GC, against a baseline with the organization cached
 * and the code warm), then for each of `--changes` role changes made through the Clerk API: the Clerk reads the
 * change cost (all subscribers together), and each subscriber's delivery delay from the webhook's delivery
 * (the emulator's attempt start; the server answers within a millisecond or two) and from the write's answer.
 * Every subscriber must get every event exactly once.
 *
 *   npm run bench:subscriptions                               1,000 subscribers, 10 changes
 *   npm run bench:subscriptions -- --subscribers 200 --changes 3 --debounce-ms 50
 *   npm run bench:subscriptions -- --smoke                   20 subscribers, 2 changes: the harness works (test)
 * Exits non-zero when a subscriber missed an event or a change cost more than one read per part. With `--record`
 * it writes bench/results/subscriptions-latest.md and .json (`--out-dir DIR`: there instead).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createClerkClient } from '@clerk/backend';
import { INVITATIONS_ROUTE, inPool, MEMBERSHIPS_ROUTE } from './lib/emulator.js';
import { percentile } from './lib/percentile.js';
import { stopAll } from './lib/processes.js';
import { machine } from './lib/report.js';
import { RESULTS_OPTIONS, resultsDestination } from './lib/results.js';
import { EMULATOR_LATENCY_MS, ROOT, startStack } from './lib/stack.js';
import type { ServerMessage, ServerRequest } from './subscriptions-server.js';

const log = (message: string) => process.stderr.write(`bench:subscriptions: ${message}\n`);

const { values: options } = parseArgs({
  options: {
    subscribers: { type: 'string' },
    changes: { type: 'string' },
    'debounce-ms': { type: 'string', default: '250' },
    smoke: { type: 'boolean', default: false },
    ...RESULTS_OPTIONS,
    echo: { type: 'boolean', default: false },
  },
  strict: true,
  allowPositionals: false,
});
const SUBSCRIBERS = Number(options.subscribers ?? (options.smoke ? 20 : 1000));
const CHANGES = Number(options.changes ?? (options.smoke ? 2 : 10));
const DEBOUNCE_MS = Number(options['debounce-ms']);
/** How long one change may take to reach every subscriber before the run is declared failed. */
const DELIVERY_TIMEOUT_MS = 60_000;

const SUBSCRIPTION = `subscription LiveTeam($id: ID!) {
  teamChanged(organizationId: $id) {
    reasons
    version
    members(limit: 20, includePending: true) {
      fromCache
      cachedAt
      totalCount
      members { userId firstName lastName email imageUrl role createdAt }
      pendingInvitations { id email role createdAt }
    }
  }
}`;

interface Received {
  at: number;
  version: number;
  reasons: string[];
  errors: boolean;
}

interface Subscriber {
  events: Received[];
  close(): void;
  /** Resolves when an event arrives (the next one). */
  waitForEvent(): Promise<void>;
}

/** One SSE subscription, read with `fetch` and a minimal parser (Yoga sends `event: next` / `event: complete`). */
async function subscribe(serverUrl: string, token: string, organizationId: string): Promise<Subscriber> {
  const controller = new AbortController();
  const response = await fetch(`${serverUrl}/graphql`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'text/event-stream',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ query: SUBSCRIPTION, variables: { id: organizationId } }),
    signal: controller.signal,
  });
  if (response.status !== 200 || !response.body) throw new Error(`subscribe: HTTP ${response.status}`);
  const events: Received[] = [];
  let waiters: (() => void)[] = [];
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.startsWith('event: next')) continue;
        const data = block.slice(block.indexOf('data: ') + 6);
        const at = Date.now();
        const result = JSON.parse(data) as {
          data?: { teamChanged: { version: number; reasons: string[] } } | null;
          errors?: unknown[];
        };
        events.push({
          at,
          version: result.data?.teamChanged.version ?? -1,
          reasons: result.data?.teamChanged.reasons ?? [],
          errors: Boolean(result.errors),
        });
        const woken = waiters;
        waiters = [];
        for (const wake of woken) wake();
      }
    }
  })().catch(() => {});
  return {
    events,
    close: () => controller.abort(),
    waitForEvent: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

async function untilEvents(subscriber: Subscriber, count: number) {
  while (subscriber.events.length < count) await subscriber.waitForEvent();
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A duration; "–" where there is none (a stage that did not happen: no re-read when a change was patched). */
const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)} ms` : '–');
const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

async function main() {
  const date = new Date();
  const host = machine(ROOT);
  const loadBefore = loadavg()[0] ?? 0;
  // The real server from src/ with --expose-gc (bench/subscriptions-server.ts answers heap readings over IPC).
  const { server, emu, serverUrl } = await startStack(
    {
      entry: 'src',
      nodeArgs: ['--expose-gc', '--import', 'tsx'],
      server: 'bench/subscriptions-server.ts',
      echo: options.echo,
    },
    {
      seed: 'empty',
      ipc: true,
      env: {
        WEBHOOK_REFRESH_DEBOUNCE_MS: String(DEBOUNCE_MS),
        SUBSCRIPTION_MAX_STREAMS: String(Math.max(10_000, SUBSCRIBERS + 100)),
      },
    },
  );
  const emulatorUrl = emu.url;
  const heap = () =>
    withTimeout(
      new Promise<Extract<ServerMessage, { type: 'heap' }>>((resolve, reject) => {
        const listener = (message: ServerMessage) => {
          if (message.type === 'heap') resolve(message);
          else if (message.type === 'error') reject(new Error(message.message));
          else return;
          server.process.off('message', listener);
        };
        server.process.on('message', listener);
        server.process.send({ type: 'heap' } satisfies ServerRequest);
      }),
      30_000,
      'heap',
    );

  const clerk = createClerkClient({
    secretKey: emu.secretKey,
    apiUrl: emulatorUrl,
    telemetry: { disabled: true },
  });

  // ---- data: one organization of SUBSCRIBERS members, a token each, and 3 pending invitations.
  // Two admins: the target's role toggles, and Clerk refuses to demote an organization's last admin.
  const organizationId = await emu.createOrganization('Bench Live', SUBSCRIBERS, 2);
  const memberIds: string[] = [];
  for (let offset = 0; memberIds.length < SUBSCRIBERS; offset += 500) {
    const page = await clerk.organizations.getOrganizationMembershipList({
      organizationId,
      limit: 500,
      offset,
    });
    if (page.data.length === 0) break;
    memberIds.push(...page.data.map((membership) => membership.publicUserData?.userId as string));
  }
  const tokens = await inPool(memberIds, 50, (userId) => emu.mintToken(userId, organizationId));
  const inviter = memberIds[0] as string;
  for (let i = 0; i < 3; i++) await emu.createInvitation(organizationId, `pending${i}@live.test`, inviter);
  await emu.webhooksSettled();
  log(`organization ${organizationId}: ${memberIds.length} members, ${tokens.length} tokens`);

  // ---- warm-up: the organization cached and the subscription path compiled, then nothing open.
  const warm = await inPool(tokens.slice(0, 20), 20, (token) => subscribe(serverUrl, token, organizationId));
  await Promise.all(warm.map((subscriber) => untilEvents(subscriber, 1)));
  for (const subscriber of warm) subscriber.close();
  for (let i = 0; i < 200 && (await heap()).open > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const baseline = await heap();
  if (baseline.open !== 0) throw new Error(`warm-up streams still open: ${baseline.open}`);

  // ---- open every stream and wait for every INITIAL event.
  await emu.resetCounters();
  const openStarted = Date.now();
  const subscribers = await inPool(tokens, 100, (token) => subscribe(serverUrl, token, organizationId));
  await withTimeout(
    Promise.all(subscribers.map((subscriber) => untilEvents(subscriber, 1))),
    DELIVERY_TIMEOUT_MS,
    'initial events',
  );
  const openSeconds = (Date.now() - openStarted) / 1000;
  const openCounters = await emu.counters();
  const opened = await heap();
  const bytesPerStream = (opened.heapUsed - baseline.heapUsed) / SUBSCRIBERS;
  const rssPerStream = (opened.rss - baseline.rss) / SUBSCRIBERS;
  log(
    `${opened.open} streams open in ${openSeconds.toFixed(1)} s; heap ${(baseline.heapUsed / 2 ** 20).toFixed(1)} → ` +
      `${(opened.heapUsed / 2 ** 20).toFixed(1)} MiB (${(bytesPerStream / 1024).toFixed(1)} KiB per stream)`,
  );

  // ---- changes: a role change through the Clerk API, then every subscriber's event.
  const target = memberIds[1] as string;
  const changes: {
    role: string;
    webhookAt: number;
    writeAnsweredAt: number;
    fromWebhook: number[];
    fromWrite: number[];
    spread: number;
    /** From the webhook's delivery to: the re-read's first Clerk call, its last call answered, the first event. */
    /** `reread` and `reread_done` are NaN when the change was patched from its webhook (no Clerk read). */
    stages: { reread: number; reread_done: number; first: number };
    clerkReads: { memberships: number; invitations: number; other: number };
  }[] = [];
  for (let change = 0; change < CHANGES; change++) {
    const role = change % 2 === 0 ? 'org:admin' : 'org:member';
    await emu.resetCounters();
    const expected = change + 2;
    const writeStarted = Date.now();
    await emu.updateMembershipRole(organizationId, target, role);
    const writeAnsweredAt = Date.now();
    await withTimeout(
      Promise.all(subscribers.map((subscriber) => untilEvents(subscriber, expected))),
      DELIVERY_TIMEOUT_MS,
      `change ${change + 1}`,
    );
    const delivery = (await emu.deliveries()).find(
      (d) =>
        d.at >= writeStarted &&
        d.url.startsWith(serverUrl) &&
        d.event_type === 'organizationMembership.updated',
    );
    if (!delivery) throw new Error(`change ${change + 1}: no webhook delivery found`);
    const counters = await emu.counters();
    const reads = (
      (await (await fetch(`${emulatorUrl}/__emulator/requests`)).json()) as {
        at: number;
        method: string;
        path: string;
      }[]
    ).filter(
      (entry) => entry.at >= delivery.at && entry.method === 'GET' && entry.path.includes(organizationId),
    );
    const arrivals = subscribers.map((subscriber) => (subscriber.events[expected - 1] as Received).at);
    const memberships = counters[MEMBERSHIPS_ROUTE] ?? 0;
    const invitations = counters[INVITATIONS_ROUTE] ?? 0;
    const all = Object.entries(counters)
      .filter(([route]) => route.startsWith('GET '))
      .reduce((sum, [, n]) => sum + n, 0);
    changes.push({
      role,
      webhookAt: delivery.at,
      writeAnsweredAt,
      fromWebhook: arrivals.map((at) => at - delivery.at),
      fromWrite: arrivals.map((at) => at - writeAnsweredAt),
      spread: Math.max(...arrivals) - Math.min(...arrivals),
      stages: {
        reread: reads.length ? Math.min(...reads.map((entry) => entry.at)) - delivery.at : Number.NaN,
        reread_done: reads.length
          ? Math.max(...reads.map((entry) => entry.at)) + EMULATOR_LATENCY_MS - delivery.at
          : Number.NaN,
        first: Math.min(...arrivals) - delivery.at,
      },
      clerkReads: { memberships, invitations, other: all - memberships - invitations },
    });
    const sorted = arrivals.map((at) => at - delivery.at).sort((a, b) => a - b);
    log(
      `change ${change + 1}/${CHANGES}: p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))} from the ` +
        `webhook; Clerk calls ${memberships} roster page(s) + ${invitations} invitations`,
    );
  }

  // ---- checks: every subscriber got the initial event and every change exactly once, in order, without errors.
  const problems: string[] = [];
  for (const [index, subscriber] of subscribers.entries()) {
    const { events } = subscriber;
    if (events.length !== CHANGES + 1) problems.push(`subscriber ${index}: ${events.length} events`);
    if (events.some((event) => event.errors)) problems.push(`subscriber ${index}: an event with errors`);
    if (events[0]?.reasons.join() !== 'INITIAL') problems.push(`subscriber ${index}: no INITIAL first`);
    for (let i = 1; i < events.length; i++) {
      if ((events[i] as Received).version <= (events[i - 1] as Received).version)
        problems.push(`subscriber ${index}: versions not increasing`);
      if ((events[i] as Received).reasons.join() !== 'MEMBER_UPDATED')
        problems.push(`subscriber ${index}: event ${i} reasons ${(events[i] as Received).reasons}`);
    }
  }
  for (const subscriber of subscribers) subscriber.close();
  await stopAll();

  const fromWebhook = changes.flatMap((change) => change.fromWebhook).sort((a, b) => a - b);
  const fromWrite = changes.flatMap((change) => change.fromWrite).sort((a, b) => a - b);
  const spreads = changes.map((change) => change.spread).sort((a, b) => a - b);
  const readsPerChange = changes.map(
    (change) =>
      `${change.clerkReads.memberships}+${change.clerkReads.invitations}+${change.clerkReads.other}`,
  );
  // One read of the roster is one Clerk call per page of 500 members.
  const rosterPages = Math.ceil(memberIds.length / 500);
  const patched = changes.every(
    (change) => change.clerkReads.memberships + change.clerkReads.invitations === 0,
  );
  const oneReadEach = changes.every(
    (change) =>
      change.clerkReads.memberships === rosterPages &&
      change.clerkReads.invitations <= 1 &&
      change.clerkReads.other === 0,
  );
  const lines = [
    `# Live updates: ${SUBSCRIBERS.toLocaleString('en-US')} subscribers on one organization`,
    '',
    `${date.toISOString()} · ${host.cpus} × ${host.cpuModel}, ${host.memoryGiB} GiB · Node ${host.node} · commit ${host.commit} · load average (1 min) ` +
      `${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after`,
    '',
    `Emulator latency ${EMULATOR_LATENCY_MS} ms, WEBHOOK_REFRESH_DEBOUNCE_MS ${DEBOUNCE_MS}, server from src/ (tsx), ` +
      `NODE_ENV=production; each subscriber a member with its own token, selecting the team page ` +
      `(members(limit: 20, includePending: true)); ${CHANGES} role changes through the Clerk API.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| streams open (INITIAL received by all) | ${opened.open.toLocaleString('en-US')} in ${openSeconds.toFixed(1)} s; Clerk calls meanwhile: ${JSON.stringify(openCounters)} |`,
    `| server heap per open stream (after a full GC) | **${(bytesPerStream / 1024).toFixed(1)} KiB** (heap ${(baseline.heapUsed / 2 ** 20).toFixed(1)} → ${(opened.heapUsed / 2 ** 20).toFixed(1)} MiB); RSS ${(rssPerStream / 1024).toFixed(1)} KiB per stream |`,
    `| Clerk calls per change (roster pages + invitations + other), all subscribers together | ${readsPerChange.join(', ')}: ${patched ? 'none: every change was patched from its webhook' : oneReadEach ? `one read per part, every change (a roster of ${memberIds.length.toLocaleString('en-US')} is ${rosterPages} page${rosterPages > 1 ? 's' : ''} of 500)` : '**not** one read per part'} |`,
    `| delivery from the webhook's delivery, p50 / p99 / max | **${ms(percentile(fromWebhook, 50))} / ${ms(percentile(fromWebhook, 99))}** / ${ms(fromWebhook.at(-1) ?? Number.NaN)} (${fromWebhook.length.toLocaleString('en-US')} deliveries) |`,
    `| delivery from the write's answer, p50 / p99 | ${ms(percentile(fromWrite, 50))} / ${ms(percentile(fromWrite, 99))} |`,
    `| where the time goes (p50 over changes, from the webhook): re-read starts / re-read answered / first subscriber | ${ms(median(changes.map((c) => c.stages.reread)))} / ${ms(median(changes.map((c) => c.stages.reread_done)))} / ${ms(median(changes.map((c) => c.stages.first)))} |`,
    `| fan-out: first to last subscriber, per change, p50 / max | ${ms(percentile(spreads, 50))} / ${ms(spreads.at(-1) ?? Number.NaN)} |`,
    `| every subscriber got every event exactly once, in order, no errors | ${problems.length === 0 ? 'yes' : `**no**: ${problems.slice(0, 5).join('; ')}`} |`,
    '',
    `Delivery from the webhook = debounce (${DEBOUNCE_MS} ms) + the re-read when the change could not be patched ` +
      `from its payload (roster and invitations, in parallel: ~${EMULATOR_LATENCY_MS} ms; "–" above: none) + the ` +
      `fan-out (each subscriber's event executed and written).`,
    '',
  ];
  const markdown = lines.join('\n');
  process.stdout.write(`\n${markdown}\n`);
  const written = resultsDestination(options).write({
    'subscriptions-latest.md': markdown,
    'subscriptions-latest.json': JSON.stringify(
      {
        date: date.toISOString(),
        host,
        subscribers: SUBSCRIBERS,
        debounceMs: DEBOUNCE_MS,
        emulatorLatencyMs: EMULATOR_LATENCY_MS,
        open: { seconds: openSeconds, counters: openCounters },
        heap: { baseline, opened, bytesPerStream, rssPerStream },
        deliveryFromWebhookMs: {
          p50: percentile(fromWebhook, 50),
          p99: percentile(fromWebhook, 99),
          max: fromWebhook.at(-1),
        },
        deliveryFromWriteMs: { p50: percentile(fromWrite, 50), p99: percentile(fromWrite, 99) },
        changes: changes.map(({ fromWebhook: _a, fromWrite: _b, ...change }) => change),
        problems,
      },
      null,
      2,
    ),
  });
  log(
    written.length ? `wrote ${written.join(', ')}` : 'not recorded (add --record to update bench/results/)',
  );
  // Patched from the webhook (no read) or one read per part: both are what a change should cost.
  const cheap = patched || oneReadEach;
  if (!cheap) log(`FAILED: a change cost more than one Clerk read per part (${readsPerChange.join(', ')})`);
  if (problems.length > 0) log(`FAILED: ${problems.length} delivery problem(s)`);
  return problems.length === 0 && cheap ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    await stopAll();
    process.exit(1);
  },
);
