/** Scenario 4: the last page of a large cached organization (paging a big roster on every request). */
import { cacheHitScenario } from './cache-hit.js';

export const deep = cacheHitScenario({
  id: 4,
  title: 'deep page of a 10,000-member org',
  key: 'deep',
  // The bench user is the last member.
  team: ({ fixtures, mode }) => fixtures.team('Bench Deep', mode.deepMembers - 1),
  page: (mode) => ({ offset: mode.deepMembers - 20 }),
  notes: (_result, { mode }) => [
    `${mode.deepMembers.toLocaleString('en-US')} members, offset ${mode.deepMembers - 20}`,
  ],
});
