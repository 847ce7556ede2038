import { defineConfig } from 'vitest/config';

// The package's own suite (`npm test -w @team-graphql/clerk-emulator`); the root config runs it too.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
