/**
 * The steady cache-hit scenarios (2, 3, 4): the same load shape, row and raw record, different queries. The first
 * query checks the answer and fills the cache; the warm-up and the measured period are all hits.
 */
import type { TeamTarget } from '../lib/fixtures.js';
import { HIT_CONNECTIONS, measured, steadyLoad } from '../lib/load.js';
import type { Mode } from '../lib/modes.js';
import type { LoadResult } from '../lib/protocol.js';
import { checkQuery, teamQuery } from '../lib/queries.js';
import { loadRow } from '../lib/rows.js';
import type { Measurements } from '../lib/targets.js';
import type { Scenario, ScenarioContext } from './scenario.js';

export interface CacheHitOptions {
  id: number;
  title: string;
  /** Also the load worker's name for the run. */
  key: string;
  /** The organization to read and a token for it, made when the scenario runs. */
  team(context: ScenarioContext): Promise<TeamTarget>;
  /** Which page of its team to read (default: the first 20 members). */
  page?(mode: Mode): Parameters<typeof teamQuery>[1];
  /** Notes before the fromCache count. */
  notes?(result: LoadResult, context: ScenarioContext): string[];
  /** What the targets read from it. */
  measured?(result: LoadResult): Measurements;
}

export function cacheHitScenario(options: CacheHitOptions): Scenario {
  const { id, title, key } = options;
  return {
    id,
    title,
    key,
    async run(context) {
      const { serverUrl } = context.stack;
      const { organizationId, token } = await options.team(context);
      const body = teamQuery(organizationId, options.page?.(context.mode));
      await checkQuery(serverUrl, token, body, key);
      const run = await measured(context, steadyLoad(context.mode, key, serverUrl, token, body));
      const { result } = run;
      return {
        row: loadRow(HIT_CONNECTIONS, result, run.counters, [
          ...(options.notes?.(result, context) ?? []),
          `fromCache ${result.fromCacheTrue}/${result.responses}`,
        ]),
        raw: run,
        ...(options.measured ? { measured: options.measured(result) } : {}),
      };
    },
  };
}
