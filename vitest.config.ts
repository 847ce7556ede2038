import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds. Node loads the CJS one for graphql-yoga, Pothos and
    // graphql-armor; Vite would give our source the ESM one, and GraphQLError from one copy is not an instance
    // of the other (Yoga would mask our coded errors). Pin our imports to what Node itself resolves.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    // vitest's summary, then one plain "Tests: N passed, N failed, N skipped" line for CI.
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Integration suites start real HTTP servers; give slow machines room without hiding hangs.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
