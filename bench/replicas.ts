/**
 * `npm run bench:replicas [-- --seconds N --connections N]`: the three-replica scenario (bench/scenarios/replicas.ts)
 * on its own stack, printed as a markdown table and written to bench/results/replicas-latest.{json,md}. Separate
 * from `npm run bench` because it needs redis-server and a stack of its own (three servers, one Redis).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stopAll } from './lib/processes.js';
import { runReplicasBench } from './scenarios/replicas.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '24' },
    'churn-every-ms': { type: 'string', default: '100' },
    entry: { type: 'string', default: 'src' },
    'out-dir': { type: 'string', default: 'bench/results' },
  },
});

async function main() {
  const result = await runReplicasBench({
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    churnEveryMs: Number(values['churn-every-ms']),
    entry: values.entry === 'dist' ? 'dist' : 'src',
  });
  const f = result.freshnessInvalidatedMs;
  const s = result.freshnessServedMs;
  const markdown = [
    `Three replicas, one Redis, emulator at 200 ms; round-robin load with ${values.connections} loops for ${result.seconds} s, a member added every ~${values['churn-every-ms']} ms (webhook to A only).`,
    '',
    '| requests/s | errors | hit ratio | Clerk calls | changes | freshness A 2xx → C invalidated p50 / p99 / max | → C served p50 / p99 / max |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${result.throughput} | ${result.errors} | ${(100 * result.hitRatio).toFixed(1)} % | ${result.clerkCalls} (${(result.clerkCalls / Math.max(1, result.changes)).toFixed(1)} per change) | ${result.changes} | ${f.p50} / ${f.p99} / ${f.max} ms | ${s.p50} / ${s.p99} / ${s.max} ms |`,
    '',
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  writeFileSync(`${values['out-dir']}/replicas-latest.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${values['out-dir']}/replicas-latest.md`, markdown);
}

main()
  .catch((error: unknown) => {
    process.stderr.write(
      `bench:replicas failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  })
  .finally(() => stopAll());
