/**
 * `npx tsx bench/prepared-fairness.ts`: one member's flood of unique big queries against everyone's prepared
 * responses (issue 19, item 6). The server runs with its defaults (`PREPARED_RESPONSES_MAX`, `_MAX_MB`,
 * `_PER_VIEWER`); `--victims` members (1,000) load their team page in a loop (8 at a time) while one member sends
 * unique 500-member pages (4 at a time) for `--seconds` (20: long enough for the attacker's answers to outgrow
 * `PREPARED_RESPONSES_MAX_MB`). The attacker's requests are all misses (each is unique), so the victims' hit ratio
 * is the server's replays (`prepared_responses_total{outcome="hit"}`) over the victims' requests. A first phase
 * without the attacker gives the baseline. Before per-viewer shares: 100 % alone, 26.4 % under attack; after: 100 %.
 *
 *   npx tsx bench/prepared-fairness.ts -- --seconds 20 --victims 1000
 */
import { parseArgs } from 'node:util';
import { startClerkEmulator } from '@team-graphql/clerk-emulator';
import { startEmulatedServer } from './lib/emulated-server.js';
import { stopAll } from './lib/processes.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { seconds: { type: 'string', default: '20' }, victims: { type: 'string', default: '1000' } },
});
const SECONDS = Number(values.seconds);
const VICTIMS = Number(values.victims);

const PAGE = `query TeamPage($id: ID!) { organization(id: $id) { members(limit: 20, includePending: true) {
  fromCache totalCount members { userId firstName lastName email imageUrl role createdAt }
  pendingInvitations { id email role createdAt } } } }`;
/** Unique by its comment: every one a miss, every one a big answer kept. */
const bigPage = (n: number) => `# ${n}
query Big($id: ID!, $offset: Int) { organization(id: $id) { members(limit: 500, offset: $offset) {
  members { userId firstName lastName email imageUrl role createdAt } } } }`;

async function metric(adminUrl: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((each) => each.startsWith(`prepared_responses_total{outcome="${outcome}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function main() {
  const emulator = await startClerkEmulator({ seed: 'empty', latencyMs: 0 });
  const organization = emulator.store.createOrganization({ name: 'Fair Co' });
  const people = emulator.store.populate(organization.id, 2000, 'org:member');
  const tokenOf = (index: number) =>
    emulator.mintToken({ userId: people[index]?.userId as string, orgId: organization.id, expiresInS: 3600 });
  const { url, adminUrl } = await startEmulatedServer(emulator);
  const post = async (token: string, query: string, variables: Record<string, unknown>) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  };
  const victimTokens = Array.from({ length: VICTIMS }, (_, i) => tokenOf(1 + i));
  const attacker = tokenOf(0);

  let victimRequests = 0;
  let attackRequests = 0;
  const phase = async (name: string, withAttacker: boolean) => {
    const hits = await metric(adminUrl, 'hit');
    victimRequests = 0;
    attackRequests = 0;
    const until = Date.now() + SECONDS * 1000;
    let next = 0;
    const victimLane = async () => {
      while (Date.now() < until) {
        await post(victimTokens[next++ % VICTIMS] as string, PAGE, { id: organization.id });
        victimRequests++;
      }
    };
    let unique = 0;
    const attackLane = async () => {
      while (withAttacker && Date.now() < until) {
        const n = unique++;
        await post(attacker, bigPage(n), { id: organization.id, offset: (n * 7) % 1500 });
        attackRequests++;
      }
    };
    await Promise.all([...Array.from({ length: 8 }, victimLane), ...Array.from({ length: 4 }, attackLane)]);
    const victimHits = (await metric(adminUrl, 'hit')) - hits;
    const result = {
      phase: name,
      seconds: SECONDS,
      victimRequests,
      victimRequestsPerSecond: Math.round(victimRequests / SECONDS),
      attackRequests,
      victimHitRatio: `${((100 * victimHits) / victimRequests).toFixed(1)}%`,
    };
    console.log(JSON.stringify(result));
  };
  // Warm: the roster read once, each victim's page kept.
  for (const token of victimTokens) {
    await post(token, PAGE, { id: organization.id });
    await post(token, PAGE, { id: organization.id });
  }
  await phase('victims alone', false);
  await phase('victims + one attacker', true);
  await stopAll();
  await emulator.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
