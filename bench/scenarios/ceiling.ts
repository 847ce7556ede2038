/**
 * Scenario 1, the ceiling: a bare Yoga server answering `{ __typename }` with the server's Node flags, under the
 * cache-hit load shape (same connections, same headers). What Node and Yoga cost before our code does anything.
 */
import { HIT_CONNECTIONS, steadyLoad } from '../lib/load.js';
import { CEILING_BODY } from '../lib/queries.js';
import { loadRow } from '../lib/rows.js';
import { startCeiling } from '../lib/stack.js';
import type { Scenario } from './scenario.js';

export const ceiling: Scenario = {
  id: 1,
  title: 'ceiling: bare Yoga `{ __typename }`',
  key: 'ceiling',
  async run({ mode, launch, fixtures, load }) {
    // The cache-hit scenario's token: the same requests but for the body.
    const { token } = await fixtures.hit();
    const server = await startCeiling(launch);
    try {
      const result = await load.run(steadyLoad(mode, 'ceiling', server.url, token, CEILING_BODY));
      return {
        row: loadRow(HIT_CONNECTIONS, result, undefined, []),
        raw: result,
        measured: { ceiling: result },
      };
    } finally {
      // Not left running (and using memory) while the server is measured.
      await server.child.stop();
    }
  },
};
