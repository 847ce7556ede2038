/**
 * Scenario 9, cold first page vs organization size: the first page (`limit: 20`) of organizations nobody has read,
 * of 100 to 30,000 members, one request at a time (sizes interleaved, so a slower moment of the machine is shared).
 * The page costs one Clerk round trip whatever the size (the rest of the roster is read in the background), so
 * the largest should take about as long as the smallest. The token names the organization, so authorization reads
 * nothing: what is timed is the roster. Between two timed pages, the last organization's whole roster is waited
 * for (a filtered page waits for it), so each page is timed on an idle server, and the Clerk calls can be checked:
 * one roster read per organization, no call of its own for a page inside the first 500.
 */
import { inPool } from '../lib/emulator.js';
import { percentile } from '../lib/percentile.js';
import { headers, searchQuery, teamQuery } from '../lib/queries.js';
import type { Scenario } from './scenario.js';

/** The Clerk source's page size: a roster of n members is ceil(n / 500) membership reads. */
const PAGE_SIZE = 500;

export const coldSize: Scenario = {
  id: 9,
  title: 'cold first page vs org size',
  key: 'coldSize',
  async run({ mode, stack, fixtures, log }) {
    const started = Date.now();
    const plan = Array.from({ length: mode.coldSizeSamples }, (_, sample) =>
      mode.coldSizes.map((members) => ({ members, sample })),
    ).flat();
    // The bench user is one of the members.
    const teams = await inPool(plan, 2, ({ members, sample }) =>
      fixtures.team(`Bench Cold ${members} #${sample}`, members - 1),
    );
    log(`coldSize: ${teams.length} organizations created in ${Date.now() - started} ms`);
    await stack.emu.resetCounters();
    const timings = new Map<number, number[]>(mode.coldSizes.map((members) => [members, []]));
    let errors = 0;
    let fromCache = 0;
    for (const [i, { members }] of plan.entries()) {
      const team = teams[i];
      if (!team) continue;
      const requestStarted = performance.now();
      const response = await fetch(`${stack.serverUrl}/graphql`, {
        method: 'POST',
        headers: headers(team.token),
        body: teamQuery(team.organizationId),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      timings.get(members)?.push(performance.now() - requestStarted);
      if (response.status !== 200 || text.includes('"errors"') || !text.includes(`"totalCount":${members}`)) {
        errors++;
        log(`coldSize: unexpected answer for ${members} members: ${text.slice(0, 300)}`);
      }
      if (text.includes('"fromCache":true')) fromCache++;
      // Not timed: the whole roster, read in the background meanwhile.
      const whole = await fetch(`${stack.serverUrl}/graphql`, {
        method: 'POST',
        headers: headers(team.token),
        body: searchQuery(team.organizationId, { roles: ['org:admin', 'org:member'], limit: 1 }),
        signal: AbortSignal.timeout(60_000),
      });
      const wholeText = await whole.text();
      // Logged, not counted: a server without search (an older build, measured for comparison) refuses it, and
      // then has the roster already (it answered only after reading all of it).
      if (!wholeText.includes(`"totalCount":${members}`))
        log(`coldSize: roster wait: ${wholeText.slice(0, 200)}`);
    }
    const expectedCalls = plan.reduce((sum, { members }) => sum + Math.ceil(members / PAGE_SIZE), 0);
    const counters = await stack.emu.counters();
    const bySize = mode.coldSizes.map((members) => {
      const sorted = [...(timings.get(members) ?? [])].sort((a, b) => a - b);
      return { members, p50: percentile(sorted, 50), max: sorted.at(-1) ?? Number.NaN, samples: sorted };
    });
    const all = [...timings.values()].flat().sort((a, b) => a - b);
    const largest = bySize.at(-1);
    return {
      row: {
        connections: '1',
        p50: percentile(all, 50),
        p97_5: percentile(all, 97.5),
        p99: percentile(all, 99),
        errors,
        clerkCalls: `${counters['GET /v1/organizations/{id}/memberships'] ?? 0} memberships (one roster read per org: ${expectedCalls})`,
        notes: [
          `p50 by size: ${bySize.map((size) => `${size.members.toLocaleString('en-US')}: ${size.p50.toFixed(0)} ms`).join(', ')}`,
          `${mode.coldSizeSamples} cold org(s) per size, one request at a time`,
          largest ? `largest / smallest = ${(largest.p50 / (bySize[0]?.p50 ?? Number.NaN)).toFixed(2)}` : '',
          `fromCache:true ${fromCache}/${plan.length}`,
        ].join('; '),
      },
      raw: { bySize, counters },
      measured: { coldBySize: bySize.map(({ members, p50 }) => ({ members, p50 })) },
    };
  },
};
