import { randomInt } from 'node:crypto';
import { defineConfig } from 'vitest/config';

/**
 * Every run is shuffled (files and tests), so a test that passes only after another one fails soon. The seed is
 * printed at the end of the run; `VITEST_SEED=N npm test` (or `--sequence.seed=N`) replays that order.
 */
const seed = Number(process.env.VITEST_SEED ?? randomInt(1, 2 ** 31));

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds. Node loads the CJS one for graphql-yoga, Pothos and
    // graphql-armor; Vite would give our source the ESM one, and GraphQLError from one copy is not an instance
    // of the other (Yoga would mask our coded errors). Pin our imports to what Node itself resolves.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    sequence: { shuffle: true, seed },
    // vitest's summary, then one plain "Tests: N passed, N failed, N skipped" line for CI.
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Integration suites start real HTTP servers; give slow machines room without hiding hangs.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
