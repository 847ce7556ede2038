/**
 * Three replicas sharing Redis (issue 11), a scenario of its own stack (bench/lib/cluster.ts: Redis, the emulator at
 * 200 ms latency, three server processes): round-robin load over the three on one organization while its roster
 * changes in Clerk and the webhook goes to replica A only.
 *
 * Reported: throughput and errors of the load, the hit ratio (`fromCache`), Clerk calls during the run, and the
 * **cross-replica freshness**: from A's 2xx to the webhook to the first query C answers with the change. Measured
 * two ways: `invalidated` is when the first query that showed the change was *sent* to C (so it measures the bus:
 * C had dropped its copy by then), `served` when that answer arrived (it includes the Clerk re-read, or the wait
 * for the replica that holds the lease). Each change is a member added in the emulator without its own webhook,
 * then the signed `organizationMembership.created` posted to A by the bench, so A's 2xx is timed exactly.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'svix';
import { startReplicaCluster } from '../lib/cluster.js';
import type { Entry } from '../lib/stack.js';

export interface ReplicasBenchOptions {
  seconds: number;
  /** Concurrent load loops, spread round-robin over the replicas. */
  connections: number;
  /** Pause between two changes (each waits for the previous one to show on C). */
  churnEveryMs: number;
  entry: Entry;
}

export interface ReplicasBenchResult {
  seconds: number;
  requests: number;
  errors: number;
  throughput: number;
  hitRatio: number;
  clerkCalls: number;
  changes: number;
  freshnessInvalidatedMs: { p50: number; p99: number; max: number };
  freshnessServedMs: { p50: number; p99: number; max: number };
}

const QUERY = (organizationId: string) =>
  JSON.stringify({
    query: `{ organization(id: "${organizationId}") { members(limit: 20) { fromCache totalCount members { userId } } } }`,
  });

const percentiles = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? Number.NaN;
  const round = (n: number) => Math.round(n * 10) / 10;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] ?? Number.NaN) };
};

export async function runReplicasBench(options: ReplicasBenchOptions): Promise<ReplicasBenchResult> {
  const cluster = await startReplicaCluster({ replicas: 3, latencyMs: 200, entry: options.entry });
  try {
    const { emulator, replicas } = cluster;
    const [a, , c] = replicas as [(typeof replicas)[0], (typeof replicas)[0], (typeof replicas)[0]];
    const org = emulator.store.createOrganization({
      name: `Bench Replicas ${randomBytes(3).toString('hex')}`,
    });
    const [admin] = emulator.store.populate(org.id, 1, 'org:admin');
    emulator.store.populate(org.id, 49);
    const token = emulator.mintToken({ userId: admin?.userId as string, orgId: org.id, expiresInS: 3600 });
    const body = QUERY(org.id);
    const ask = async (url: string) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      const result = (await response.json()) as {
        data?: { organization: { members: { fromCache: boolean; totalCount: number } } };
        errors?: unknown[];
      };
      return { ok: response.status === 200 && !result.errors, members: result.data?.organization.members };
    };
    for (const replica of replicas) await ask(replica.url);
    emulator.control.resetCounters();

    const stopAt = Date.now() + options.seconds * 1000;
    let requests = 0;
    let errors = 0;
    let hits = 0;
    const loop = async (offset: number) => {
      for (let index = offset; Date.now() < stopAt; index += options.connections) {
        const replica = replicas[index % replicas.length] as (typeof replicas)[0];
        try {
          const answer = await ask(replica.url);
          requests++;
          if (!answer.ok) errors++;
          else if (answer.members?.fromCache) hits++;
        } catch {
          requests++;
          errors++;
        }
      }
    };

    const invalidated: number[] = [];
    const served: number[] = [];
    const churn = async () => {
      let expected = emulator.store.listMemberships(org.id).length;
      while (Date.now() < stopAt) {
        const user = emulator.store.createUser({
          emailAddress: `r-${randomBytes(4).toString('hex')}@bench.test`,
        });
        emulator.store.addMembership(org.id, user.id, 'org:member'); // no webhook of its own: the bench sends it
        expected++;
        const messageId = `msg_${randomBytes(8).toString('hex')}`;
        const payload = JSON.stringify({
          type: 'organizationMembership.created',
          object: 'event',
          data: { organization: { id: org.id }, public_user_data: { user_id: user.id }, role: 'org:member' },
        });
        const now = new Date();
        const delivered = await fetch(`${a.url}/webhooks/clerk`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'svix-id': messageId,
            'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
            'svix-signature': new Webhook(cluster.webhookSecret).sign(messageId, now, payload),
          },
          body: payload,
        });
        const acknowledged = performance.now();
        if (delivered.status !== 200) throw new Error(`webhook to A answered ${delivered.status}`);
        for (;;) {
          const sent = performance.now();
          const answer = await ask(c.url);
          if (answer.members?.totalCount === expected) {
            invalidated.push(sent - acknowledged);
            served.push(performance.now() - acknowledged);
            break;
          }
          if (performance.now() - acknowledged > 10_000) throw new Error('the change never showed on C');
        }
        await new Promise((resolve) => setTimeout(resolve, options.churnEveryMs));
      }
    };

    await Promise.all([...Array.from({ length: options.connections }, (_, index) => loop(index)), churn()]);
    const counters = emulator.control.counters();
    const clerkCalls = Object.values(counters).reduce((sum, n) => sum + n, 0);
    return {
      seconds: options.seconds,
      requests,
      errors,
      throughput: Math.round(requests / options.seconds),
      hitRatio: requests ? hits / (requests - errors) : 0,
      clerkCalls,
      changes: invalidated.length,
      freshnessInvalidatedMs: percentiles(invalidated),
      freshnessServedMs: percentiles(served),
    };
  } finally {
    await cluster.stop();
  }
}
