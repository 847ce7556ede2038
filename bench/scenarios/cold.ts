/**
 * Scenario 5, cold misses: every request reads an organization nobody has read yet (a token with no active
 * organization, so each is authorized through its own cold member list). What a miss costs on top of Clerk's
 * latency, next to what a direct read from the emulator takes.
 */
import { inPool } from '../lib/emulator.js';
import { measured } from '../lib/load.js';
import type { LoadScenario } from '../lib/protocol.js';
import { headers, teamQuery } from '../lib/queries.js';
import { loadRow } from '../lib/rows.js';
import { EMULATOR_LATENCY_MS } from '../lib/stack.js';
import type { Scenario } from './scenario.js';

export const cold: Scenario = {
  id: 5,
  title: 'cold miss (each request a new org)',
  key: 'cold',
  async run({ mode, stack, fixtures, load, log }) {
    const started = Date.now();
    const organizations = await inPool(
      Array.from({ length: mode.coldOrganizations + mode.coldWarmupOrganizations }, (_, i) => i),
      8,
      (i) => fixtures.organization(`Bench Cold ${i}`, 20),
    );
    const measuredOrganizations = organizations.slice(0, mode.coldOrganizations);
    const warmupOrganizations = organizations.slice(mode.coldOrganizations);
    const token = await fixtures.token();
    log(`cold: ${organizations.length} organizations created in ${Date.now() - started} ms`);

    const scenario: LoadScenario = {
      name: 'cold',
      url: `${stack.serverUrl}/graphql`,
      headers: headers(token),
      bodies: measuredOrganizations.map((id) => teamQuery(id)),
      distinct: true,
      connections: mode.coldConnections,
      amount: measuredOrganizations.length,
      warmup: {
        amount: warmupOrganizations.length,
        bodies: warmupOrganizations.map((id) => teamQuery(id)),
      },
      timeoutSeconds: 10,
    };
    // What a direct client sees from the emulator (its own work on top of the fixed latency), sequentially.
    const direct = new Float64Array(Math.min(warmupOrganizations.length, mode.name === 'full' ? 10 : 4));
    for (let i = 0; i < direct.length; i++) {
      const readStarted = performance.now();
      await stack.emu.listMemberships(warmupOrganizations[i] ?? '');
      direct[i] = performance.now() - readStarted;
    }
    const directP50 = direct.length ? (direct.sort()[Math.ceil(direct.length / 2) - 1] ?? 0) : undefined;
    const run = await measured({ load, stack }, scenario);
    const { result } = run;
    const overhead = result.latency.p50 - EMULATOR_LATENCY_MS;
    return {
      row: loadRow(mode.coldConnections, result, run.counters, [
        `${result.responses} distinct orgs (21 members each)`,
        `overhead p50 − ${EMULATOR_LATENCY_MS} ms = ${overhead.toFixed(2)} ms`,
        ...(directP50 !== undefined
          ? [
              `a direct read from the emulator takes ${directP50.toFixed(2)} ms (p50 of ${direct.length} sequential)`,
            ]
          : []),
        `fromCache:false ${result.fromCacheFalse}/${result.responses}`,
      ]),
      raw: run,
      measured: { cold: result, coldDirectP50: directP50 },
    };
  },
};
