/**
 * The load generator, in a process of its own so that it does not share an event loop with what it measures.
 * Forked by the harness (bench/lib/load.ts) with `--import tsx`. For each LoadScenario it receives over IPC, one at a
 * time, it runs the warm-up, says `warmed`, waits for `measure`, runs the measured period and sends back the result;
 * it serves runs until the harness stops it or disconnects.
 */
import autocannon from 'autocannon';
import type {
  LatencySummary,
  LoadResult,
  LoadScenario,
  ParentToWorker,
  WorkerToParent,
} from './lib/protocol.js';

function send(message: WorkerToParent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error('load-worker must be started with an IPC channel (fork)');
    process.send(message, undefined, {}, () => resolve());
  });
}

export function summarize(samples: Float64Array): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) =>
    sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? 0 : sum / sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p97_5: at(0.975),
    p99: at(0.99),
    max: sorted.length === 0 ? 0 : (sorted[sorted.length - 1] ?? 0),
  };
}

/** A growable list of latencies (ms) that costs no allocation per response. */
class Samples {
  private data = new Float64Array(1 << 16);
  private size = 0;
  push(value: number) {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }
  values() {
    return this.data.subarray(0, this.size);
  }
}

interface RunPlan {
  bodies: string[];
  distinct: boolean;
  connections: number;
  durationSeconds?: number | undefined;
  amount?: number | undefined;
}

function run(scenario: LoadScenario, plan: RunPlan): Promise<LoadResult> {
  const samples = new Samples();
  const counts = { graphqlErrors: 0, fromCacheTrue: 0, fromCacheFalse: 0 };
  const errorSamples: string[] = [];
  let next = 0;
  const nextBody = () => {
    if (plan.distinct) {
      const body = plan.bodies[next++];
      if (body === undefined) throw new Error(`${scenario.name}: ran out of distinct request bodies`);
      return body;
    }
    const body = plan.bodies[next++ % plan.bodies.length] ?? '';
    return body;
  };
  const single = plan.bodies.length === 1 && !plan.distinct;

  return new Promise((resolve, reject) => {
    const startedAt = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: scenario.url,
        method: 'POST',
        headers: scenario.headers,
        connections: plan.connections,
        pipelining: 1,
        timeout: scenario.timeoutSeconds,
        ...(scenario.sampleIntervalMs !== undefined ? { sampleInt: scenario.sampleIntervalMs } : {}),
        ...(plan.amount !== undefined ? { amount: plan.amount } : { duration: plan.durationSeconds ?? 1 }),
        requests: [
          {
            method: 'POST',
            ...(single
              ? { body: plan.bodies[0] }
              : { setupRequest: (request) => ({ ...request, body: nextBody() }) }),
            onResponse: (status, body) => {
              if (body.includes('"errors"')) {
                counts.graphqlErrors++;
                if (errorSamples.length < 3) errorSamples.push(`${status} ${body.slice(0, 300)}`);
              } else if (status >= 300 && errorSamples.length < 3) {
                errorSamples.push(`${status} ${body.slice(0, 300)}`);
              }
              if (body.includes('"fromCache":true')) counts.fromCacheTrue++;
              else if (body.includes('"fromCache":false')) counts.fromCacheFalse++;
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
        const latency = summarize(samples.values());
        const statusCodes: Record<string, number> = {};
        for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
          statusCodes[code] = stat.count ?? 0;
        resolve({
          name: scenario.name,
          seconds,
          responses: latency.count,
          requestsPerSecond: latency.count / seconds,
          latency,
          statusCodes,
          non2xx: result.non2xx,
          socketErrors: result.errors,
          timeouts: result.timeouts,
          graphqlErrors: counts.graphqlErrors,
          fromCacheTrue: counts.fromCacheTrue,
          fromCacheFalse: counts.fromCacheFalse,
          errorSamples,
          autocannon: result,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => samples.push(responseTime));
  });
}

let measure: (() => void) | undefined;

process.on('message', (message: ParentToWorker) => {
  if (message.type === 'measure') {
    measure?.();
    return;
  }
  const { scenario } = message;
  void (async () => {
    try {
      const warmup = scenario.warmup;
      if (warmup && ((warmup.durationSeconds ?? 0) > 0 || (warmup.amount ?? 0) > 0)) {
        const bodies = warmup.bodies ?? scenario.bodies;
        await run(scenario, {
          bodies,
          distinct: warmup.bodies !== undefined && scenario.distinct === true,
          connections: Math.min(
            warmup.connections ?? scenario.connections,
            warmup.amount ?? Number.POSITIVE_INFINITY,
          ),
          durationSeconds: warmup.durationSeconds,
          amount: warmup.amount,
        });
      }
      const go = new Promise<void>((resolve) => {
        measure = resolve;
      });
      await send({ type: 'warmed' });
      await go;
      const result = await run(scenario, {
        bodies: scenario.bodies,
        distinct: scenario.distinct === true,
        connections: scenario.connections,
        durationSeconds: scenario.durationSeconds,
        amount: scenario.amount,
      });
      await send({ type: 'result', result });
    } catch (error) {
      await send({
        type: 'error',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  })();
});
