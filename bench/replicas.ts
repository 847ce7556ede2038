/**
 * `npm run bench:replicas [-- --seconds N --connections N]`: the three-replica scenario (bench/scenarios/replicas.ts)
 * on its own stack, printed as a markdown table (with `--record`, also written to
 * bench/results/replicas-latest.{json,md}). Separate from `npm run bench` because it needs redis-server and a stack
 * of its own (three servers, one Redis). Exits non-zero when a query failed or a change never reached replica C.
 * `--smoke`: two seconds, four loops (the test's run: the harness works, the numbers mean nothing).
 */
import { parseArgs } from 'node:util';
import { stopAll } from './lib/processes.js';
import { RESULTS_OPTIONS, resultsDestination } from './lib/results.js';
import { runReplicasBench } from './scenarios/replicas.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    connections: { type: 'string' },
    'churn-every-ms': { type: 'string', default: '100' },
    entry: { type: 'string', default: 'src' },
    smoke: { type: 'boolean', default: false },
    ...RESULTS_OPTIONS,
  },
  strict: true,
});
const seconds = Number(values.seconds ?? (values.smoke ? 2 : 10));
const connections = Number(values.connections ?? (values.smoke ? 4 : 24));

async function main() {
  const result = await runReplicasBench({
    seconds,
    connections,
    churnEveryMs: Number(values['churn-every-ms']),
    entry: values.entry === 'dist' ? 'dist' : 'src',
  });
  const f = result.freshnessInvalidatedMs;
  const s = result.freshnessServedMs;
  const markdown = [
    `Three replicas, one Redis, emulator at 200 ms; round-robin load with ${connections} loops for ${result.seconds} s, a member added every ~${values['churn-every-ms']} ms (webhook to A only).`,
    '',
    '| requests/s | errors | hit ratio | Clerk calls | changes | freshness A 2xx → C invalidated p50 / p99 / max | → C served p50 / p99 / max |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${result.throughput} | ${result.errors} | ${(100 * result.hitRatio).toFixed(1)} % | ${result.clerkCalls} (${(result.clerkCalls / Math.max(1, result.changes)).toFixed(1)} per change) | ${result.changes} | ${f.p50} / ${f.p99} / ${f.max} ms | ${s.p50} / ${s.p99} / ${s.max} ms |`,
    '',
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  const written = resultsDestination(values).write({
    'replicas-latest.json': `${JSON.stringify(result, null, 2)}\n`,
    'replicas-latest.md': markdown,
  });
  process.stderr.write(
    written.length
      ? `wrote ${written.join(', ')}\n`
      : 'not recorded (add --record to update bench/results/)\n',
  );
  const failures = [
    ...(result.errors > 0 ? [`${result.errors} queries failed`] : []),
    ...(result.changes === 0 ? ['no change reached replica C'] : []),
  ];
  for (const failure of failures) process.stderr.write(`bench:replicas FAILED: ${failure}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

main()
  .catch((error: unknown) => {
    process.stderr.write(
      `bench:replicas failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  })
  .finally(() => stopAll());
