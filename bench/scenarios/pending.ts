/** Scenario 3: the cache-hit organization's team page with its pending invitations (a second cached part). */
import { cacheHitScenario } from './cache-hit.js';

export const pending = cacheHitScenario({
  id: 3,
  title: 'cache hit, `includePending: true`',
  key: 'pending',
  team: ({ fixtures }) => fixtures.hit(),
  page: () => ({ includePending: true }),
});
