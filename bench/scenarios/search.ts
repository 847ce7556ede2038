/**
 * Scenario 10, search under load: 50 connections search, filter and order a warm roster of 10,000 members (a few
 * different questions, round-robin). All of it is answered from the cached roster: no Clerk call.
 */
import { HIT_CONNECTIONS, measured, steadyLoad } from '../lib/load.js';
import { checkQuery, searchQuery } from '../lib/queries.js';
import { loadRow } from '../lib/rows.js';
import type { Scenario } from './scenario.js';

export const search: Scenario = {
  id: 10,
  title: 'search a 10,000-member roster',
  key: 'search',
  async run(context) {
    const { mode, stack, fixtures } = context;
    const { organizationId, token } = await fixtures.team('Bench Search', mode.searchMembers - 1);
    const bodies = [
      searchQuery(organizationId, { search: 'an' }),
      searchQuery(organizationId, { search: 'SMITH', orderBy: { field: 'NAME' } }),
      searchQuery(organizationId, { search: 'jo', roles: ['org:member'], offset: 20 }),
      searchQuery(organizationId, { roles: ['org:admin'] }),
      searchQuery(organizationId, { orderBy: { field: 'EMAIL', direction: 'DESC' }, offset: 5_000 }),
      searchQuery(organizationId, { search: 'no such person' }),
    ];
    // A filtered page waits for the whole roster: after this, every question is answered from the cache.
    for (const body of bodies) await checkQuery(stack.serverUrl, token, body, 'search');
    const scenario = { ...steadyLoad(mode, 'search', stack.serverUrl, token, bodies[0] ?? ''), bodies };
    const run = await measured(context, scenario);
    const { result } = run;
    return {
      row: loadRow(HIT_CONNECTIONS, result, run.counters, [
        `${mode.searchMembers.toLocaleString('en-US')} members, ${bodies.length} questions round-robin (search, roles, name/email order)`,
        `fromCache ${result.fromCacheTrue}/${result.responses}`,
      ]),
      raw: run,
    };
  },
};
