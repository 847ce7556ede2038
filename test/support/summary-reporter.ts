/**
 * Ends a test run with one plain line, `Tests: N passed, N failed, N skipped`, that any CI can read without knowing
 * vitest's own (coloured, multi-line) summary.
 */
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  private seed: number | undefined;

  onInit(vitest: Vitest) {
    const { sequence } = vitest.config;
    if (sequence.shuffle) this.seed = sequence.seed;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      let failedTests = 0;
      for (const test of module.children.allTests()) {
        const { state } = test.result();
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') failedTests++;
        else counts.skipped++;
      }
      // A file that failed outside its tests (while collecting them, or in a hook: a Redis suite under CI without
      // redis-server) counts once, so this line never reads "0 failed" for a run that failed.
      counts.failed += failedTests > 0 ? failedTests : module.state() === 'failed' ? 1 : 0;
    }
    counts.failed += unhandledErrors.length;
    // The order is part of the result: a failure that depends on it is replayed with this seed.
    if (this.seed !== undefined) {
      process.stdout.write(
        `\nShuffled with seed ${this.seed}: VITEST_SEED=${this.seed} npm test replays this order.`,
      );
    }
    process.stdout.write(
      `\nTests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
