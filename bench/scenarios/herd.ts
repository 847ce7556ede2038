/**
 * Scenario 6, the thundering herd: many concurrent queries (one connection each) on one cold organization, with one
 * freshly minted token. The cache's single flight should make it one Clerk read sequence.
 */
import { measured } from '../lib/load.js';
import type { LoadScenario } from '../lib/protocol.js';
import { headers, teamQuery } from '../lib/queries.js';
import { clerkReads, errorCount, loadRow } from '../lib/rows.js';
import type { Scenario } from './scenario.js';

/** The Clerk source's page size: a roster of n members is ceil(n / 500) membership reads. */
const PAGE_SIZE = 500;
const MEMBERS = 20;

export const herd: Scenario = {
  id: 6,
  title: 'herd: concurrent queries, one cold org',
  key: 'herd',
  async run({ mode, stack, fixtures, load }) {
    const { organizationId, token } = await fixtures.team('Bench Herd', MEMBERS);
    const scenario: LoadScenario = {
      name: 'herd',
      url: `${stack.serverUrl}/graphql`,
      headers: headers(token),
      bodies: [teamQuery(organizationId)],
      connections: mode.herdRequests,
      amount: mode.herdRequests,
      timeoutSeconds: 20,
    };
    const run = await measured({ load, stack }, scenario);
    const { result } = run;
    const calls = clerkReads(run.counters);
    const expected = Math.ceil((MEMBERS + 1) / PAGE_SIZE);
    return {
      row: loadRow(mode.herdRequests, result, run.counters, [
        `${result.responses} responses; membership reads ${calls.memberships} (one read sequence = ${expected})`,
        'one freshly minted token, not yet verified by the server',
        `cache: ${Object.entries(run.cacheReads)
          .filter(([key]) => key.startsWith('members:'))
          .map(([key, n]) => `${key.slice(8)} ${n}`)
          .join(', ')}`,
      ]),
      raw: run,
      measured: { herd: { calls: calls.memberships, expected, errors: errorCount(result) } },
    };
  },
};
