/**
 * Scenarios 12–14, the peers, measured in the same run as the cache hit (2) under the same load shape and on the same
 * page: Fastify + Mercurius with graphql-jit, Apollo Server, and node:http writing the prepared answer's bytes (the
 * limit). Each serves the page our server answered, from memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HIT_CONNECTIONS, steadyLoad } from '../lib/load.js';
import { type Peer, startPeer } from '../lib/peers.js';
import type { LoadResult } from '../lib/protocol.js';
import { checkQuery, headers, teamQuery } from '../lib/queries.js';
import { loadRow } from '../lib/rows.js';
import type { Measurements } from '../lib/targets.js';
import type { Scenario } from './scenario.js';

function peerScenario(
  id: number,
  title: string,
  key: string,
  peer: Peer,
  measured: (result: LoadResult) => Measurements,
): Scenario {
  return {
    id,
    title,
    key,
    async run({ mode, launch, stack, fixtures, load, measured: before }) {
      const { organizationId, token } = await fixtures.hit();
      const body = teamQuery(organizationId);
      const response = await fetch(`${stack.serverUrl}/graphql`, {
        method: 'POST',
        headers: headers(token),
        body,
      });
      const answer = await response.text();
      const tempDir = mkdtempSync(join(tmpdir(), 'bench-peer-'));
      const server = await startPeer(launch, peer, answer, tempDir);
      try {
        await checkQuery(server.url, token, body, key);
        const result = await load.run(steadyLoad(mode, key, server.url, token, body));
        const notes = before.hit
          ? [`cache hit (2) = ${(before.hit.requestsPerSecond / result.requestsPerSecond).toFixed(2)} × this`]
          : [];
        return {
          row: loadRow(HIT_CONNECTIONS, result, undefined, notes),
          raw: result,
          measured: measured(result),
        };
      } finally {
        await server.child.stop();
        rmSync(tempDir, { recursive: true, force: true });
      }
    },
  };
}

export const mercurius = peerScenario(
  12,
  'peer: Fastify + Mercurius (graphql-jit), same page from memory',
  'mercurius',
  'mercurius',
  (result) => ({ mercurius: result }),
);
export const apollo = peerScenario(
  13,
  'peer: Apollo Server, same page from memory',
  'apollo',
  'apollo',
  (result) => ({ apollo: result }),
);
export const limit = peerScenario(
  14,
  'limit: node:http writing the prepared bytes',
  'limit',
  'prepared',
  (result) => ({ limit: result }),
);
