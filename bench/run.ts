/**
 * The benchmark harness (issue 6). Starts, on loopback, each in a process of its own:
 *   - the Clerk emulator (200 ms latency, Svix-signed webhooks to the server),
 *   - the server (`node dist/main.js`, or `node --import tsx src/main.ts` with `--entry src`),
 *   - a bare Yoga server (the ceiling), with the same Node flags,
 *   - a load worker per scenario (autocannon, bench/load-worker.ts), and the memory probe (bench/memory.ts);
 * runs the scenarios (bench/scenarios/, each a warm-up and then a measured period) and prints a markdown table. It
 * exits non-zero when a scenario failed or (outside smoke mode) a target was missed. With `--record` it also writes
 * the table and the raw JSON to bench/results/ (timestamped, plus latest.md / latest.json): the committed results.
 *
 *   npm run bench                  full run (a few minutes); add `-- --record` to update bench/results/
 *   npm run bench -- --quick       short periods, < 1 minute with the build
 *   npm run bench -- --smoke       for the test: sub-second periods, tiny data, one load worker (numbers mean nothing)
 *   npm run bench -- --profile     cache-hit load against a server under --cpu-prof; prints the top self-time functions
 *   npm run bench -- --profile-ceiling   the same for the bare Yoga ceiling (what Yoga itself costs)
 * Other options: --entry dist|src, --out-dir DIR (write the report there), --only 1,2,5, --echo (the children's output).
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Fixtures } from './lib/fixtures.js';
import { createLoadRunner } from './lib/load.js';
import { MODES } from './lib/modes.js';
import { stopAll } from './lib/processes.js';
import { runProfile } from './lib/profile-run.js';
import { machine, renderMarkdown, type ScenarioRow, stamp } from './lib/report.js';
import { RESULTS_OPTIONS, resultsDestination } from './lib/results.js';
import { EMULATOR_LATENCY_MS, launchOf, ROOT, startStack } from './lib/stack.js';
import { type Measurements, targetsOf } from './lib/targets.js';
import { SCENARIOS } from './scenarios/index.js';
import type { ScenarioContext } from './scenarios/scenario.js';

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

// ---------------------------------------------------------------- options

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-ceiling': { type: 'boolean', default: false },
    entry: { type: 'string' },
    ...RESULTS_OPTIONS,
    only: { type: 'string' },
    echo: { type: 'boolean', default: false },
  },
  strict: true,
  allowPositionals: false,
});

const mode = MODES[options.smoke ? 'smoke' : options.quick ? 'quick' : 'full'];
const entry = options.entry ?? (options.smoke ? 'src' : 'dist');
if (entry !== 'dist' && entry !== 'src') throw new Error('--entry must be dist or src');
const launch = launchOf(entry, options.echo);
const results = resultsDestination(options);
const only = options.only ? new Set(options.only.split(',').map((n) => Number(n.trim()))) : undefined;

// ---------------------------------------------------------------- benchmark

async function benchmark(): Promise<number> {
  const date = new Date();
  // Taken now, not at the end: the commit and the state of src/ the server was built from (src may change meanwhile).
  const host = machine(ROOT);
  const loadBefore = loadavg()[0] ?? 0;
  // Smoke runs are over in a fraction of a second: one load worker for all (forked now, while the stack starts),
  // and autocannon ticks short enough to end them on time.
  const load = createLoadRunner(mode.name === 'smoke' ? { workerPerRun: false, sampleIntervalMs: 100 } : {});
  const stack = await startStack(launch);
  log(`emulator ${stack.emu.url}, server ${stack.serverUrl} (${launch.server})`);
  const measured: Measurements = {};
  const context: ScenarioContext = {
    mode,
    launch,
    stack,
    fixtures: new Fixtures(stack.emu),
    load,
    measured,
    log,
  };
  const rows: ScenarioRow[] = [];
  const raw: Record<string, unknown> = {};
  for (const scenario of SCENARIOS) {
    const { id, title } = scenario;
    if (only && !only.has(id)) continue;
    log(`scenario ${id}: ${title}`);
    const started = Date.now();
    try {
      const result = await scenario.run(context);
      rows.push({ id, name: title, ...result.row });
      raw[scenario.key] = result.raw;
      Object.assign(measured, result.measured);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`scenario ${id} FAILED: ${message}`);
      rows.push({ id, name: title, connections: '–', notes: '', failure: message.split('\n')[0] ?? message });
      raw[`failure${id}`] = message;
    }
    log(`scenario ${id} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  await load.stop();
  await stopAll();

  const { ratio, targets } = targetsOf(measured);
  const markdown = renderMarkdown({
    title: 'Benchmark',
    machine: host,
    mode: mode.name,
    date,
    settings:
      `Emulator latency ${EMULATOR_LATENCY_MS} ms; server \`node ${[...launch.nodeArgs, launch.server].join(' ')}\` with NODE_ENV=production, ` +
      `LOG_LEVEL=warn; load from autocannon in its own process; warm-up ${mode.warmupSeconds} s, measured ${mode.measureSeconds} s ` +
      'per steady scenario. Latency percentiles from every response (sub-ms); errors = non-2xx + socket errors/timeouts + ' +
      'responses with GraphQL `errors`; Clerk calls = membership/invitation list reads the emulator served during the measured period.' +
      (mode.name === 'smoke' ? ' **Smoke mode: numbers are not meaningful.**' : ''),
    rows,
    ratio,
    targets,
    load: `load average (1 min) ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after`,
  });
  process.stdout.write(`\n${markdown}\n`);

  const json = JSON.stringify({ date, mode, machine: host, entry, rows, ratio, targets, raw }, null, 2);
  const base = `bench-${stamp(date)}-${mode.name}`;
  const written = results.write({
    [`${base}.md`]: markdown,
    [`${base}.json`]: json,
    'latest.md': markdown,
    'latest.json': json,
  });
  log(
    written.length ? `wrote ${written.join(', ')}` : 'not recorded (add --record to update bench/results/)',
  );
  const failed = rows.filter((row) => row.failure).map((row) => `scenario ${row.id} failed`);
  // Smoke numbers mean nothing (sub-second periods, tiny data): only the harness is judged there.
  if (mode.name !== 'smoke')
    failed.push(
      ...targets.filter((target) => target.pass === false).map((target) => `missed: ${target.target}`),
    );
  for (const failure of failed) log(failure);
  return failed.length > 0 ? 1 : 0;
}

// ---------------------------------------------------------------- main

async function main() {
  if (entry === 'dist' && !existsSync(join(ROOT, 'dist', 'main.js'))) {
    throw new Error(
      'dist/main.js is missing: run `npm run build` first (npm run bench does), or pass --entry src',
    );
  }
  const profileCeiling = options['profile-ceiling'];
  process.exitCode =
    options.profile || profileCeiling
      ? await runProfile({ mode, launch, ceiling: profileCeiling, results, log })
      : await benchmark();
}

const hardLimit = setTimeout(
  () => {
    log('the run exceeded its hard time limit (20 min); stopping');
    void stopAll().finally(() => process.exit(1));
  },
  20 * 60 * 1000,
);
hardLimit.unref();

main()
  .catch((error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
