/**
 * `npm run bench:actions [-- --actions N --latency-ms N]`: team actions on two replicas sharing Redis (bench/lib/
 * cluster.ts: Redis, the emulator, two server processes), with Clerk's webhooks held back the whole run, so what is
 * measured is the action's own read-your-writes, not the webhook's. Each action is a role change on replica A,
 * alternating a member between org:member and org:admin.
 *
 * Reported (p50 / p99 / max):
 * - the mutation's answer time on A, next to Clerk's own round trip for the same write (the SDK, straight to the
 *   emulator): what the action adds to Clerk's time;
 * - from A's answer to a reader on replica B seeing the change (B polled with the team query);
 * - from A's answer to a live subscriber on B receiving the event (negative: before the answer);
 * - Clerk reads made per action (the emulator's request log; 0 is the promise).
 * `--smoke`: five actions (the test's run: the harness works, the numbers mean nothing). Exits non-zero when an
 * action failed, a change never showed on B, or an action cost a Clerk read.
 */
import { parseArgs } from 'node:util';
import { createClerkClient } from '@clerk/backend';
import { createClient } from 'graphql-sse';
import { startReplicaCluster } from './lib/cluster.js';
import { percentile } from './lib/percentile.js';
import { stopAll } from './lib/processes.js';
import { RESULTS_OPTIONS, resultsDestination } from './lib/results.js';

const { values } = parseArgs({
  options: {
    actions: { type: 'string' },
    'latency-ms': { type: 'string', default: '100' },
    smoke: { type: 'boolean', default: false },
    ...RESULTS_OPTIONS,
  },
  strict: true,
});
const actions = Number(values.actions ?? (values.smoke ? 5 : 60));
const latencyMs = Number(values['latency-ms']);

const TEAM = `query Team($id: ID!) { organization(id: $id) { members(limit: 50) { fromCache members { userId role } } } }`;
const ROLE = `mutation Role($org: ID!, $user: ID!, $role: String!) {
  updateMemberRole(organizationId: $org, userId: $user, role: $role) { organization { id } } }`;
const LIVE = `subscription Live($id: ID!) { teamChanged(organizationId: $id) { reasons members(limit: 50) { members { userId role } } } }`;

interface Member {
  userId: string;
  role: string;
}

async function post<T>(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: T; errors?: { message: string }[] };
}

const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? 0),
  };
};

async function main() {
  // The per-user write limit (30 a minute by default) would refuse the run's own actions.
  const cluster = await startReplicaCluster({
    replicas: 2,
    latencyMs,
    env: { WRITE_RATE_LIMIT_PER_MINUTE: '1000000' },
  });
  const failures: string[] = [];
  try {
    const [a, b] = cluster.replicas;
    if (!a || !b) throw new Error('two replicas expected');
    const { emulator } = cluster;
    // Webhooks never arrive during the run: every replica learns of each action from the action itself.
    emulator.control.setWebhookDelivery({ delayMs: 60 * 60_000 });
    const organization = emulator.store.createOrganization({ name: 'Actions Bench' });
    const [admin] = emulator.store.populate(organization.id, 2, 'org:admin');
    const [member] = emulator.store.populate(organization.id, 1, 'org:member');
    if (!admin || !member) throw new Error('seed');
    const adminToken = emulator.mintToken({ userId: admin.userId, orgId: organization.id, expiresInS: 3600 });
    const clerk = createClerkClient({ secretKey: emulator.secretKey, apiUrl: emulator.url });

    // Clerk's own round trip for the same write, straight from the SDK (the baseline).
    const clerkMs: number[] = [];
    for (let i = 0; i < Math.min(actions, 20); i++) {
      const started = performance.now();
      await clerk.organizations.updateOrganizationMembership({
        organizationId: organization.id,
        userId: admin.userId,
        role: 'org:admin',
      });
      clerkMs.push(performance.now() - started);
    }

    // Both replicas hold the team; a live subscriber on B.
    for (const replica of [a, b]) await post(replica.url, adminToken, TEAM, { id: organization.id });
    const events: { at: number; role: string | undefined }[] = [];
    const sse = createClient({ url: `${b.url}/graphql`, headers: { authorization: `Bearer ${adminToken}` } });
    let ready!: () => void;
    const initial = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const unsubscribe = sse.subscribe<{ teamChanged: { reasons: string[]; members: { members: Member[] } } }>(
      { query: LIVE, variables: { id: organization.id } },
      {
        next: ({ data }) => {
          if (data?.teamChanged.reasons.includes('INITIAL')) return ready();
          const role = data?.teamChanged.members.members.find((m) => m.userId === member.userId)?.role;
          events.push({ at: performance.now(), role });
        },
        error: (error) => failures.push(`live stream: ${String(error)}`),
        complete: () => {},
      },
    );
    await initial;

    // The role set is read once per CACHE_TTL_SECONDS (not per action): read it before measuring, with an action
    // that changes nothing (the member's role is already org:member).
    await post(a.url, adminToken, ROLE, { org: organization.id, user: member.userId, role: 'org:member' });

    const answerMs: number[] = [];
    const visibleMs: number[] = [];
    const liveMs: number[] = [];
    let clerkReads = 0;
    for (let i = 0; i < actions; i++) {
      const role = i % 2 === 0 ? 'org:admin' : 'org:member';
      const logBefore = emulator.control.requestLog().length;
      const started = performance.now();
      const answer = await post(a.url, adminToken, ROLE, { org: organization.id, user: member.userId, role });
      const answered = performance.now();
      if (answer.errors) {
        failures.push(`action ${i}: ${answer.errors[0]?.message}`);
        continue;
      }
      answerMs.push(answered - started);
      // B shows it: polled until it does (bounded).
      let seen = false;
      for (let poll = 0; poll < 2000 && !seen; poll++) {
        const page = await post<{ organization: { members: { members: Member[] } } }>(
          b.url,
          adminToken,
          TEAM,
          {
            id: organization.id,
          },
        );
        seen = page.data?.organization.members.members.find((m) => m.userId === member.userId)?.role === role;
        if (seen) visibleMs.push(performance.now() - answered);
      }
      if (!seen) failures.push(`action ${i}: never visible on B`);
      // The live event with this role.
      for (let wait = 0; wait < 200 && !events.some((event) => event.role === role); wait++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const event = events.find((each) => each.role === role);
      if (event) liveMs.push(event.at - answered);
      else failures.push(`action ${i}: no live event on B`);
      events.length = 0;
      clerkReads += emulator.control
        .requestLog()
        .slice(logBefore)
        .filter((entry) => entry.method === 'GET').length;
    }
    unsubscribe();
    await sse.dispose();
    if (clerkReads > 0) failures.push(`${clerkReads} Clerk reads during ${actions} actions (0 expected)`);

    const result = {
      actions,
      latencyMs,
      clerkRoundTripMs: summary(clerkMs),
      mutationMs: summary(answerMs),
      visibleOnOtherReplicaMs: summary(visibleMs),
      liveEventOnOtherReplicaMs: summary(liveMs),
      clerkReadsPerAction: clerkReads / Math.max(1, actions),
    };
    const row = (s: { p50: number; p99: number; max: number }) => `${s.p50} / ${s.p99} / ${s.max} ms`;
    const markdown = [
      `Two replicas, one Redis, emulator at ${latencyMs} ms; ${actions} role changes on replica A, webhooks held back.`,
      '',
      '| Clerk round trip (SDK) | mutation answered on A | → visible to a reader on B | → live event on B | Clerk reads per action |',
      '| --- | --- | --- | --- | --- |',
      `| ${row(result.clerkRoundTripMs)} | ${row(result.mutationMs)} | ${row(result.visibleOnOtherReplicaMs)} | ${row(result.liveEventOnOtherReplicaMs)} | ${result.clerkReadsPerAction} |`,
      '',
    ].join('\n');
    process.stdout.write(`${markdown}\n`);
    const written = resultsDestination(values).write({
      'actions-latest.json': `${JSON.stringify(result, null, 2)}\n`,
      'actions-latest.md': markdown,
    });
    process.stderr.write(
      written.length
        ? `wrote ${written.join(', ')}\n`
        : 'not recorded (add --record to update bench/results/)\n',
    );
  } finally {
    await cluster.stop();
  }
  for (const failure of failures) process.stderr.write(`bench:actions FAILED: ${failure}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch(async (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await stopAll();
  process.exit(1);
});
