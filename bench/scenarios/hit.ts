/** Scenario 2: the team page of a cached organization, the product's hot path; compared with the ceiling. */
import { cacheHitScenario } from './cache-hit.js';

export const hit = cacheHitScenario({
  id: 2,
  title: 'cache hit `members(limit: 20)`',
  key: 'hit',
  team: ({ fixtures }) => fixtures.hit(),
  notes: (result, { measured: { ceiling } }) =>
    ceiling
      ? [`${((result.requestsPerSecond / ceiling.requestsPerSecond) * 100).toFixed(1)} % of ceiling`]
      : [],
  measured: (result) => ({ hit: result }),
});
