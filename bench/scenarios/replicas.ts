/**
 * Three replicas sharing Redis (issue 11), a scenario of its own stack (bench/lib/cluster.ts: Redis, the emulator at
 * 200 ms latency, three server processes): round-robin load over the three on one organization while its roster
 * changes in Clerk and the webhook goes to replica A only.
 *
 * Reported: throughput and errors of the load, the hit ratio (`fromCache`), Clerk calls during the run, and the
 * **cross-replica freshness**: from the emulator's first delivery attempt of the webhook to A (its delivery log, same
 * clock) to C showing the change. Measured two ways: `invalidated` is when the first query that showed the change
 * was *sent* to C, `served` when that answer arrived. Each change is a member added through Clerk's API, so A gets
 * Clerk's own payload: it patches its roster, and the bus carries the patch to B and C (no Clerk call per change).
 * The replicas run with CACHE_CLOCK_SKEW_MS=0, as the emulator runs on their clock (see the README on patching).
 */
import { randomBytes } from 'node:crypto';
import { createClerkClient } from '@clerk/backend';
import { startReplicaCluster } from '../lib/cluster.js';
import { percentile } from '../lib/percentile.js';
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
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
};

export async function runReplicasBench(options: ReplicasBenchOptions): Promise<ReplicasBenchResult> {
  const cluster = await startReplicaCluster({
    replicas: 3,
    latencyMs: 200,
    entry: options.entry,
    // The emulator runs on the replicas' clock: a change is never too close to a read to order (see the README).
    env: { CACHE_CLOCK_SKEW_MS: process.env.CACHE_CLOCK_SKEW_MS ?? '0' },
  });
  try {
    const { emulator, replicas } = cluster;
    const c = replicas[2] as (typeof replicas)[0];
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
    /** Deliveries already matched to a change. */
    const seen = new Set<string>();
    const served: number[] = [];
    const clerk = createClerkClient({
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      telemetry: { disabled: true },
    });
    const churn = async () => {
      let expected = emulator.store.listMemberships(org.id).length;
      while (Date.now() < stopAt) {
        const user = emulator.store.createUser({
          emailAddress: `r-${randomBytes(4).toString('hex')}@bench.test`,
        });
        // Through Clerk's API, so the emulator sends Clerk's own webhook (the full payload) to replica A.
        await clerk.organizations.createOrganizationMembership({
          organizationId: org.id,
          userId: user.id,
          role: 'org:member',
        });
        expected++;
        for (;;) {
          const sent = Date.now();
          const answer = await ask(c.url);
          if (answer.members?.totalCount === expected) {
            const visibleAt = Date.now();
            // C can show it before A's answer reaches the emulator, which logs an attempt once it is answered.
            let delivery: ReturnType<typeof emulator.control.deliveries>[number] | undefined;
            for (let wait = 0; !delivery && wait < 100; wait++) {
              delivery = emulator.control
                .deliveries()
                .find(
                  (d) =>
                    d.eventType === 'organizationMembership.created' && d.attempt === 1 && !seen.has(d.msgId),
                );
              if (!delivery) await new Promise((resolve) => setTimeout(resolve, 50));
            }
            if (!delivery) throw new Error('C shows a change whose webhook the emulator never logged');
            seen.add(delivery.msgId);
            invalidated.push(Math.max(0, sent - delivery.at));
            served.push(visibleAt - delivery.at);
            break;
          }
          if (Date.now() - sent > 10_000) throw new Error('the change never showed on C');
        }
        await new Promise((resolve) => setTimeout(resolve, options.churnEveryMs));
      }
    };
    await Promise.all([...Array.from({ length: options.connections }, (_, index) => loop(index)), churn()]);
    const counters = emulator.control.counters();
    // Reads only: the bench's own writes (one membership created per change) are Clerk calls too, but not ours.
    const clerkCalls = Object.entries(counters)
      .filter(([route]) => route.startsWith('GET'))
      .reduce((sum, [, n]) => sum + n, 0);
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
