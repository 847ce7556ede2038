/**
 * `tsx bench/search-stall.ts [-- --members 30000 --rounds 10]`: how long one turn of the server's event loop can
 * take because of a search (issue 19, item 7). One server process (with ./lib/loop-stall.ts preloaded) and an
 * in-process emulator without latency hold one organization of `--members` members. It prints the longest stall
 *
 * - during the first search of the process, on a roster just read (nothing searched before: cold code paths);
 * - during the first search of a fresh roster snapshot once the process has searched before (steady), a second
 *   search of it (prepared), and a first search in name order;
 * - during each of `--rounds` rounds of `forceRefresh` + search (a new snapshot every time, as a member looping it
 *   would make), and the same rounds' longest stall with a filter that does not search (the read's own share).
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import { startEmulatedServer } from './lib/emulated-server.js';
import type { LoopStallAnswer, LoopStallRequest } from './lib/loop-stall.js';
import { type Child, stopAll } from './lib/processes.js';

const { values } = parseArgs({
  options: { members: { type: 'string', default: '30000' }, rounds: { type: 'string', default: '10' } },
});
const MEMBERS = Number(values.members);
const ROUNDS = Number(values.rounds);

/** The longest stall since the last call, as "wall ms / CPU ms" (see ./lib/loop-stall.ts). */
async function loopStall(server: Child): Promise<Stall> {
  const answer = once(server.process, 'message') as Promise<[LoopStallAnswer]>;
  server.process.send({ type: 'loop-stall' } satisfies LoopStallRequest);
  const [{ maxStallMs, maxTurnCpuMs }] = await answer;
  return { wall: maxStallMs, cpu: maxTurnCpuMs };
}
type Stall = { wall: number; cpu: number };
const worst = (stalls: Stall[]): Stall => ({
  wall: Math.max(...stalls.map((s) => s.wall)),
  cpu: Math.max(...stalls.map((s) => s.cpu)),
});

async function main() {
  const emulator = await startClerkEmulator({ seed: 'empty', latencyMs: 0 });
  const org = emulator.store.createOrganization({ name: 'Search Stall' });
  const members = emulator.store.populate(org.id, MEMBERS);
  const token = emulator.mintToken({ userId: members[0]?.userId as string, orgId: org.id, expiresInS: 3600 });
  const { url, server } = await startEmulatedServer(emulator, {
    nodeArgs: ['--import', './bench/lib/loop-stall.ts'],
    env: { CACHE_TTL_SECONDS: '3600' },
  });
  try {
    const ask = async (args: string) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: `{ organization(id: "${org.id}") { members(limit: 5, ${args}) { totalCount members { userId } } } }`,
        }),
      });
      const body = (await response.json()) as { errors?: unknown };
      if (!response.ok || body.errors) throw new Error(`${args}: ${response.status} ${JSON.stringify(body)}`);
    };
    // The whole roster in the cache, without searching it (a role filter also waits for the whole roster).
    await ask('roles: ["org:member", "org:admin"]');
    await loopStall(server);
    await ask('search: "ann"');
    const firstInProcess = await loopStall(server);
    await ask('forceRefresh: true, roles: ["org:member", "org:admin"]');
    await loopStall(server);
    await ask('search: "mar"');
    const firstOnFreshSnapshot = await loopStall(server);
    await ask('search: "jo"');
    const warmSearch = await loopStall(server);
    await ask('search: "ann", orderBy: { field: NAME }');
    const firstNameOrder = await loopStall(server);
    const refreshAndSearch: Stall[] = [];
    const refreshOnly: Stall[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await loopStall(server);
      await ask(`forceRefresh: true, search: "${['ann', 'jo', 'smith', 'e'][round % 4]}"`);
      refreshAndSearch.push(await loopStall(server));
      await ask('forceRefresh: true, roles: ["org:member", "org:admin"]');
      refreshOnly.push(await loopStall(server));
    }
    console.log(
      JSON.stringify(
        {
          members: MEMBERS,
          // wall: how late a 1 ms timer fired; cpu: the process's CPU time in that gap (the work itself).
          longestStallMs: {
            firstSearchInProcess: firstInProcess,
            firstSearchOfFreshSnapshot: firstOnFreshSnapshot,
            searchOfPreparedSnapshot: warmSearch,
            firstSearchInNameOrder: firstNameOrder,
            forceRefreshPlusSearch: worst(refreshAndSearch),
            forceRefreshWithoutSearch: worst(refreshOnly),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await stopAll();
    await emulator.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
