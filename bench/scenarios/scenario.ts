/**
 * A benchmark scenario: one row of the report. The runner (bench/run.ts) starts the stack, then runs the selected
 * scenarios one after the other; each makes its own data (through `fixtures`), checks that the server answers it,
 * puts its load on the server and says what it saw.
 */

import type { Fixtures } from '../lib/fixtures.js';
import type { LoadRunner } from '../lib/load.js';
import type { Mode } from '../lib/modes.js';
import type { ScenarioRow } from '../lib/report.js';
import type { Launch, Stack } from '../lib/stack.js';
import type { Measurements } from '../lib/targets.js';

export interface ScenarioContext {
  mode: Mode;
  /** How the server runs (the ceiling and the memory probe use the same). */
  launch: Launch;
  stack: Stack;
  fixtures: Fixtures;
  load: LoadRunner;
  /** What the scenarios before this one measured (scenario 2 reports its share of the ceiling). */
  measured: Readonly<Measurements>;
  log: (message: string) => void;
}

export interface ScenarioResult {
  /** The report row, less the id and title the runner adds. */
  row: Omit<ScenarioRow, 'id' | 'name'>;
  /** Everything behind the row, for latest.json (`raw.<key>`). */
  raw: unknown;
  /** What the targets (and later scenarios) read. */
  measured?: Measurements;
}

export interface Scenario {
  /** Its number in the report and in `--only`. */
  id: number;
  /** The row's title in the report. */
  title: string;
  /** Where its raw data goes in latest.json. */
  key: string;
  /** Throws when it cannot be measured: the row then says why, and the run exits non-zero. */
  run(context: ScenarioContext): Promise<ScenarioResult>;
}
