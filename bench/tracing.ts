/**
 * `npx tsx bench/tracing.ts`: what traces cost on the hit path (issue 22, item 5). The cache-hit load of
 * `npm run bench` (scenario 2: the team page of a cached organization, 50 connections, autocannon in its own
 * process) against the server as deployed (`node dist/main.js`, NODE_ENV=production), started afresh for each
 * setting, in rounds that alternate the settings so a drift of the machine spreads over all of them:
 *
 * - tracing off (no OTEL_* variable: the SDK is not loaded; the API's no-op spans only);
 * - on, every trace sampled (`parentbased_always_on`), OTLP `http/protobuf` to a sink in this process;
 * - on, 1 % sampled (`parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.01`).
 *
 * Each on the replayed hit (the fast path, the default) and through Yoga (`PREPARED_RESPONSES_MAX=0`: the GraphQL
 * operation span too). The sink is a node:http server answering 200 to `POST /v1/traces`; it counts the batches
 * and bytes, so the report shows the export ran. It prints the report; `--record` writes
 * bench/results/tracing-latest.md, `--out-dir DIR` writes there instead. Exits non-zero when a run had errors.
 *
 *   npm run build && npx tsx bench/tracing.ts            # 2 rounds of 5 s warm-up + 15 s measured per setting
 *   npx tsx bench/tracing.ts --quick                     # 1 s + 3 s
 *   npx tsx bench/tracing.ts --smoke                     # the harness works (server from src/; numbers mean nothing)
 *   npx tsx bench/tracing.ts --rounds 3 --only fast      # fast path only (or `yoga`)
 *   npx tsx bench/tracing.ts --baseline /tmp/before      # also the server built in another checkout ("before")
 *
 * Besides req/s (which a busy machine moves by ±50 %), it reports the server's CPU time per request (from
 * /proc/<pid>/stat over the measured period, on Linux): what a request costs the server whatever else runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Fixtures } from './lib/fixtures.js';
import { createLoadRunner, HIT_CONNECTIONS, steadyLoad } from './lib/load.js';
import { MODES } from './lib/modes.js';
import { stopAll } from './lib/processes.js';
import type { LoadResult } from './lib/protocol.js';
import { checkQuery, teamQuery } from './lib/queries.js';
import { machine, stamp } from './lib/report.js';
import { RESULTS_OPTIONS, resultsDestination } from './lib/results.js';
import { errorCount } from './lib/rows.js';
import { launchOf, ROOT, startStack } from './lib/stack.js';

const log = (message: string) => process.stderr.write(`bench:tracing: ${message}\n`);

const { values: options } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    entry: { type: 'string' },
    echo: { type: 'boolean', default: false },
    baseline: { type: 'string' },
    ...RESULTS_OPTIONS,
  },
  strict: true,
});

const mode = MODES[options.smoke ? 'smoke' : options.quick ? 'quick' : 'full'];
const rounds = Number(options.rounds ?? (mode.name === 'smoke' ? 1 : 2));
const entry = options.entry ?? (mode.name === 'smoke' ? 'src' : 'dist');
if (entry !== 'dist' && entry !== 'src') throw new Error('--entry must be dist or src');
const launch = launchOf(entry, options.echo);

interface Setting {
  key: string;
  label: string;
  env: (sink: string) => Record<string, string>;
  /** Another build's entry (`--baseline`). @default this checkout's */
  server?: string;
}

const SETTINGS: Setting[] = [
  ...(options.baseline
    ? [
        {
          key: 'before',
          label: `before (${options.baseline})`,
          env: () => ({}),
          server: join(options.baseline, launch.server),
        },
      ]
    : []),
  { key: 'off', label: 'off', env: () => ({}) },
  {
    key: 'all',
    label: 'on, 100 % sampled',
    env: (sink) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_TRACES_SAMPLER: 'parentbased_always_on' }),
  },
  {
    key: 'one',
    label: 'on, 1 % sampled',
    env: (sink) => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: sink,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
    }),
  },
];

const PATHS = [
  { key: 'fast', label: 'replayed hit (fast path)', env: {} as Record<string, string> },
  { key: 'yoga', label: 'hit through Yoga', env: { PREPARED_RESPONSES_MAX: '0' } },
].filter((path) => !options.only || options.only.split(',').includes(path.key));

/** An OTLP/HTTP sink: answers every export 200 and counts what arrived. */
async function startSink() {
  const counts = { batches: 0, bytes: 0 };
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => {
      counts.bytes += chunk.length;
    });
    request.on('end', () => {
      if (request.url === '/v1/traces') counts.batches++;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, counts, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

interface Run {
  path: string;
  setting: string;
  round: number;
  result: LoadResult;
  errors: number;
  /** The server's CPU time (user + system) per response over the measured period, µs. */
  cpuUsPerRequest: number;
  exported: { batches: number; bytes: number };
}

/** A process's CPU time so far (user + system), seconds, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function measure(
  path: (typeof PATHS)[number],
  setting: Setting,
  round: number,
  sink: Awaited<ReturnType<typeof startSink>>,
) {
  const stack = await startStack(setting.server ? { ...launch, server: setting.server } : launch, {
    env: { ...path.env, ...setting.env(sink.url) },
  });
  const load = createLoadRunner(mode.name === 'smoke' ? { sampleIntervalMs: 100 } : {});
  try {
    const { organizationId, token } = await new Fixtures(stack.emu).hit();
    const body = teamQuery(organizationId);
    await checkQuery(stack.serverUrl, token, body, `tracing ${setting.key}`);
    const before = { ...sink.counts };
    const pid = stack.server.process.pid as number;
    let cpuBefore = 0;
    const result = await load.run(
      steadyLoad(mode, `tracing-${path.key}-${setting.key}`, stack.serverUrl, token, body),
      async () => {
        cpuBefore = cpuSeconds(pid);
      },
    );
    const cpuUsPerRequest = ((cpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, result.responses);
    // The server's last batch goes out on its SIGTERM (the export's flush): counted before the next run.
    await stack.server.stop(10_000);
    const run: Run = {
      path: path.key,
      setting: setting.key,
      round,
      result,
      errors: errorCount(result),
      cpuUsPerRequest,
      exported: { batches: sink.counts.batches - before.batches, bytes: sink.counts.bytes - before.bytes },
    };
    log(
      `${path.key} / ${setting.key} round ${round}: ${Math.round(result.requestsPerSecond)} req/s, ${Math.round(cpuUsPerRequest)} µs CPU/request, ` +
        `p99 ${result.latency.p99.toFixed(1)} ms, ` +
        `${run.exported.batches} batches (${Math.round(run.exported.bytes / 1024)} KiB) exported`,
    );
    return run;
  } finally {
    await load.stop();
    await stack.server.stop();
    await stack.emulator.stop();
  }
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
const thousands = (value: number) => Math.round(value).toLocaleString('en-US');

function report(runs: Run[], date: Date, loadBefore: number): string {
  const host = machine(ROOT);
  const lines = [
    `# Trace overhead on the hit path (${mode.name})`,
    '',
    `${date.toISOString()} · ${host.cpus} × ${host.cpuModel} · Node ${process.version} · commit ${host.commit} · load average (1 min) ` +
      `${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after · ${HIT_CONNECTIONS} connections, ` +
      `warm-up ${mode.warmupSeconds} s, measured ${mode.measureSeconds} s, ${rounds} round(s), server \`${launch.server}\`` +
      (mode.name === 'smoke' ? ' · **smoke mode: numbers are not meaningful**' : ''),
    '',
    '| path | tracing | req/s per round | mean req/s | vs off | server CPU µs/request per round | mean | vs off | p50 ms | p99 ms | errors | exported |',
    '| --- | --- | --- | --: | --: | --- | --: | --: | --: | --: | --: | --- |',
  ];
  for (const path of PATHS) {
    const offRuns = runs.filter((run) => run.path === path.key && run.setting === 'off');
    const offMean = mean(offRuns.map((run) => run.result.requestsPerSecond));
    const offCpu = mean(offRuns.map((run) => run.cpuUsPerRequest));
    for (const setting of SETTINGS) {
      const mine = runs.filter((run) => run.path === path.key && run.setting === setting.key);
      if (mine.length === 0) continue;
      const rps = mine.map((run) => run.result.requestsPerSecond);
      const cpu = mine.map((run) => run.cpuUsPerRequest);
      const exported = mine.reduce((sum, run) => sum + run.exported.bytes, 0);
      const batches = mine.reduce((sum, run) => sum + run.exported.batches, 0);
      lines.push(
        `| ${path.label} | ${setting.label} | ${rps.map(thousands).join(' · ')} | ${thousands(mean(rps))} | ` +
          `${setting.key === 'off' ? '–' : `${((mean(rps) / offMean - 1) * 100).toFixed(1)} %`} | ` +
          `${cpu.map(thousands).join(' · ')} | ${thousands(mean(cpu))} | ` +
          `${setting.key === 'off' ? '–' : `${((mean(cpu) / offCpu - 1) * 100).toFixed(1)} %`} | ` +
          `${mean(mine.map((run) => run.result.latency.p50)).toFixed(2)} | ${mean(mine.map((run) => run.result.latency.p99)).toFixed(2)} | ` +
          `${mine.reduce((sum, run) => sum + run.errors, 0)} | ${batches ? `${batches} batches, ${thousands(exported / 1024)} KiB` : 'nothing'} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main() {
  if (entry === 'dist' && !existsSync(join(ROOT, 'dist', 'main.js'))) {
    throw new Error('dist/main.js is missing: run `npm run build` first, or pass --entry src');
  }
  const date = new Date();
  const loadBefore = loadavg()[0] ?? 0;
  const sink = await startSink();
  const runs: Run[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const path of PATHS) {
        // Alternating the order each round: no setting always runs on a machine warmed by the same neighbour.
        const order = round % 2 === 1 ? SETTINGS : [...SETTINGS].reverse();
        for (const setting of order) runs.push(await measure(path, setting, round, sink));
      }
    }
  } finally {
    await sink.close();
    await stopAll();
  }
  const markdown = report(runs, date, loadBefore);
  process.stdout.write(`\n${markdown}\n`);
  const written = resultsDestination(options).write({
    [`tracing-${stamp(date)}-${mode.name}.md`]: markdown,
    'tracing-latest.md': markdown,
  });
  log(
    written.length ? `wrote ${written.join(', ')}` : 'not recorded (add --record to update bench/results/)',
  );
  // Smoke periods are a fraction of a second: a run with no answer in it is the machine's business, not a failure.
  const failed = runs.filter(
    (run) => run.errors > 0 || (mode.name !== 'smoke' && run.result.requestsPerSecond === 0),
  );
  // At 100 % every request is traced: nothing exported means the export is broken. (At 1 %, a short run may sample
  // no request at all.)
  const silent = runs.filter((run) => run.setting === 'all' && run.exported.batches === 0);
  for (const run of failed) log(`${run.path} / ${run.setting} round ${run.round}: ${run.errors} errors`);
  for (const run of silent)
    log(`${run.path} / ${run.setting} round ${run.round}: tracing on, nothing exported`);
  return failed.length + silent.length > 0 ? 1 : 0;
}

const stopAfter = setTimeout(() => {
  log('stopped after 30 minutes');
  void stopAll().then(() => process.exit(1));
}, 30 * 60_000);
stopAfter.unref();

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    await stopAll();
    process.exit(1);
  },
);
