/**
 * Load runs: a LoadScenario goes over IPC to a load worker (bench/load-worker.ts: autocannon in a process of its own,
 * so that it does not share an event loop with what it measures), which warms up, waits for the harness, runs the
 * measured period and sends back its result.
 */
import type { EmulatorClient } from './emulator.js';
import type { Mode } from './modes.js';
import { type Child, forkNode } from './processes.js';
import type { LoadResult, LoadScenario, ParentToWorker, WorkerToParent } from './protocol.js';
import { headers } from './queries.js';
import { ROOT } from './stack.js';

/** Connections of the steady scenarios (the targets speak of this many). */
export const HIT_CONNECTIONS = 50;

/** Runs between the warm-up and the measured period (reset counters, take snapshots, start background writes). */
export type BeforeMeasure = () => Promise<void>;

export interface LoadRunner {
  /** Runs one scenario; the measured period starts only when `beforeMeasure` has finished. */
  run(scenario: LoadScenario, beforeMeasure?: BeforeMeasure): Promise<LoadResult>;
  /** Stops the shared worker, if there is one. */
  stop(): Promise<void>;
}

function forkWorker(name: string): Child {
  return forkNode({ name, nodeArgs: ['--import', 'tsx'], script: 'bench/load-worker.ts', cwd: ROOT });
}

export interface LoadRunnerOptions {
  /**
   * A fresh worker for every run, stopped after it, so that no run starts with another's heap (for measurements).
   * Otherwise one worker, forked at once, serves every run: starting one (tsx and autocannon) costs about a second
   * of CPU, more than a smoke run itself.
   * @default true
   */
  workerPerRun?: boolean;
  /**
   * autocannon's sampling interval for every run (LoadScenario.sampleIntervalMs). A run ends only on a tick, so
   * with the default 1000 ms a 0.2 s period lasts 1 s.
   * @default 1000 (autocannon's)
   */
  sampleIntervalMs?: number;
}

export function createLoadRunner(options: LoadRunnerOptions = {}): LoadRunner {
  const shared = options.workerPerRun === false ? forkWorker('load') : undefined;
  const { sampleIntervalMs } = options;
  return {
    async run(scenario, beforeMeasure = async () => {}) {
      const worker = shared ?? forkWorker(`load:${scenario.name}`);
      try {
        return await exchange(
          worker,
          sampleIntervalMs ? { ...scenario, sampleIntervalMs } : scenario,
          beforeMeasure,
        );
      } finally {
        if (!shared) await worker.stop(2000);
      }
    },
    async stop() {
      await shared?.stop(2000);
    },
  };
}

function exchange(worker: Child, scenario: LoadScenario, beforeMeasure: BeforeMeasure): Promise<LoadResult> {
  const expectedSeconds =
    (scenario.warmup?.durationSeconds ?? 0) +
    (scenario.durationSeconds ?? 0) +
    (scenario.amount ? 30 : 0) +
    (scenario.warmup?.amount ? 30 : 0);
  const deadlineMs = (expectedSeconds + 60) * 1000;
  return new Promise<LoadResult>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.process.off('message', onMessage);
      fn();
    };
    const timer = setTimeout(
      () => settle(() => reject(new Error(`load worker did not finish within ${deadlineMs} ms`))),
      deadlineMs,
    );
    const onMessage = (message: WorkerToParent) => {
      if (message.type === 'warmed') {
        beforeMeasure().then(
          () => worker.process.send({ type: 'measure' } satisfies ParentToWorker),
          (error: unknown) => settle(() => reject(error)),
        );
      } else if (message.type === 'result') {
        settle(() => resolve(message.result));
      } else {
        settle(() => reject(new Error(`load worker: ${message.message}`)));
      }
    };
    worker.process.on('message', onMessage);
    // A result sent just before exiting may be delivered after the exit event: give it a moment.
    void worker.exited.then(({ code, signal }) => {
      if (settled) return;
      setTimeout(() => {
        const output = worker.output();
        settle(() =>
          reject(new Error(`load worker exited (${code ?? signal}) without a result:\n${output}`)),
        );
      }, 500);
    });
    worker.process.send({ type: 'run', scenario } satisfies ParentToWorker);
  });
}

/** A steady scenario: `connections` in a closed loop on one query, the mode's warm-up, then its measured period. */
export function steadyLoad(
  mode: Mode,
  name: string,
  url: string,
  token: string,
  body: string,
  connections = HIT_CONNECTIONS,
): LoadScenario {
  return {
    name,
    url: `${url}/graphql`,
    headers: headers(token),
    bodies: [body],
    connections,
    durationSeconds: mode.measureSeconds,
    warmup: { durationSeconds: mode.warmupSeconds },
    timeoutSeconds: 10,
  };
}

/**
 * Runs a scenario against the server with the emulator's counters reset and the server's cache metrics read around
 * the measured period; `extra` starts and stops background work (churn writes) with it. Returns the load result,
 * the emulator's counters and the changes in the cache's read counters (the raw record of a row).
 */
export async function measured(
  { load, stack }: { load: LoadRunner; stack: { emu: EmulatorClient; adminUrl: string } },
  scenario: LoadScenario,
  extra?: { start(): void; stop(): Promise<void> },
) {
  let before = new Map<string, number>();
  const result = await load.run(scenario, async () => {
    await stack.emu.resetCounters();
    before = await cacheReads(stack.adminUrl);
    extra?.start();
  });
  const counters = await stack.emu.counters();
  await extra?.stop();
  const reads = diff(await cacheReads(stack.adminUrl), before);
  return { result, counters, cacheReads: reads };
}

/** The server's `team_cache_reads_total` (from its admin listener), by `part:outcome` (e.g. `members:hit`). */
async function cacheReads(adminUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  const reads = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^team_cache_reads_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    reads.set(`${labels.part}:${labels.outcome}`, Number(match[2]));
  }
  return reads;
}

function diff(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}
