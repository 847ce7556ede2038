/**
 * `npx tsx bench/prepared-memory.ts`: what prepared responses keep alive (issue 19, item 1). No attacker: a
 * 30,000-member organization, `CACHE_TTL_SECONDS=2`, the server in a 300 MB heap (`--max-old-space-size=300`),
 * and for 16 TTL periods: the roster's TTL re-read (an admin's page view after the TTL) and one page view by another
 * member (a prepared response is kept for it). The server's heap after full collections (./lib/settled-heap.ts) is
 * printed per period. Before versions replaced value identity, every prepared answer held its period's whole roster
 * snapshot (~13 MB) and the server died of heap exhaustion after ~14 periods; now the heap stays flat.
 *
 * Settled heaps jump by a few tens of MiB from one period to the next whatever the fast path does (transient
 * buffers of the last re-read; the same with `--fast-path off`), so the verdict is the trend: the least-squares
 * slope of the settled heap per period (from the second period on). Exits non-zero when the server dies or the
 * slope is 1 MiB per period or more.
 *
 *   npx tsx bench/prepared-memory.ts -- --members 30000 --periods 16 --heap-mb 300 --fast-path off
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import { startEmulatedServer } from './lib/emulated-server.js';
import { type Child, stopAll } from './lib/processes.js';
import type { HeapAnswer, HeapRequest } from './lib/settled-heap.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    members: { type: 'string', default: '30000' },
    periods: { type: 'string', default: '16' },
    'heap-mb': { type: 'string', default: '300' },
    'ttl-seconds': { type: 'string', default: '2' },
    'fast-path': { type: 'string', default: 'on' },
  },
});
const MEMBERS = Number(values.members);
const PERIODS = Number(values.periods);
const TTL_MS = Number(values['ttl-seconds']) * 1000;

const QUERY = `query TeamPage($id: ID!) { organization(id: $id) { members(limit: 20, includePending: true) {
  fromCache cachedAt totalCount members { userId firstName lastName email imageUrl role createdAt }
  pendingInvitations { id email role createdAt } } } }`;

const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

async function settledHeap(server: Child): Promise<number> {
  const answer = once(server.process, 'message') as Promise<[HeapAnswer]>;
  server.process.send({ type: 'heap' } satisfies HeapRequest);
  const [{ heapUsed }] = await answer;
  return heapUsed;
}

async function main() {
  const emulator = await startClerkEmulator({ seed: 'empty', latencyMs: 0 });
  const organization = emulator.store.createOrganization({ name: 'Big Co' });
  const people = emulator.store.populate(organization.id, MEMBERS, 'org:member');
  const tokenOf = (index: number) =>
    emulator.mintToken({ userId: people[index]?.userId as string, orgId: organization.id, expiresInS: 3600 });

  const { url, server } = await startEmulatedServer(emulator, {
    nodeArgs: [
      `--max-old-space-size=${values['heap-mb']}`,
      '--expose-gc',
      '--import',
      './bench/lib/settled-heap.ts',
    ],
    env: {
      CACHE_TTL_SECONDS: String(TTL_MS / 1000),
      PREPARED_RESPONSES_MAX: values['fast-path'] === 'off' ? '0' : '10000',
    },
  });
  const view = async (index: number) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenOf(index)}` },
      body: JSON.stringify({ query: QUERY, variables: { id: organization.id } }),
    });
    const body = (await response.json()) as { errors?: unknown[] };
    if (!response.ok || body.errors)
      throw new Error(`page view failed: ${JSON.stringify(body).slice(0, 300)}`);
  };

  const heaps: number[] = [];
  let died: string | undefined;
  void server.exited.then(({ code, signal }) => {
    died = `server exited (${code ?? signal})`;
  });
  try {
    for (let period = 0; period < PERIODS; period++) {
      const startedAt = Date.now();
      await view(0); // the TTL re-read: the roster expired, an admin's page view reads it again
      await view(1 + period); // one member's page view: a prepared response kept
      heaps.push(await settledHeap(server));
      console.log(JSON.stringify({ period: period + 1, settledHeapMiB: mib(heaps.at(-1) as number) }));
      await sleep(Math.max(0, startedAt + TTL_MS + 50 - Date.now()));
    }
  } catch (error) {
    died ??= (error as Error).message;
  }
  const slope = slopeOf(heaps.slice(1).map(mib));
  console.log(
    JSON.stringify({
      members: MEMBERS,
      ttlSeconds: TTL_MS / 1000,
      heapLimitMb: Number(values['heap-mb']),
      fastPath: values['fast-path'],
      periodsCompleted: heaps.length,
      died: died ?? null,
      settledHeapMiB: heaps.map(mib),
      slopeMiBPerPeriod: Number(slope.toFixed(2)),
    }),
  );
  await stopAll();
  await emulator.close();
  process.exit(died || !(slope < 1) ? 1 : 0);
}

/** Least-squares slope of values over their index (NaN with fewer than two). */
function slopeOf(values: number[]): number {
  const n = values.length;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((sum, y) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  values.forEach((y, x) => {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  });
  return covariance / variance;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
