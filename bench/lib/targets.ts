/** The targets, checked against what the scenarios measured; a target whose scenarios did not run is n/a. */

import { HIT_CONNECTIONS } from './load.js';
import type { LoadResult, MemoryResult } from './protocol.js';
import type { TargetRow } from './report.js';
import { EMULATOR_LATENCY_MS } from './stack.js';

/** What the targets read, filled in by the scenarios as they run (and read by later ones). */
export interface Measurements {
  ceiling?: LoadResult;
  hit?: LoadResult;
  cold?: LoadResult;
  /** p50 of direct sequential reads from the emulator: its own share of a miss. */
  coldDirectP50?: number | undefined;
  herd?: { calls: number; expected: number; errors: number };
  churn?: { errors: number };
  memory?: MemoryResult;
  /** Scenario 9: p50 of a cold first page by organization size (members), smallest first. */
  coldBySize?: { members: number; p50: number }[];
  /** The peers (scenarios 12–14), on the cache-hit page. */
  mercurius?: LoadResult;
  apollo?: LoadResult;
  limit?: LoadResult;
}

export function targetsOf(measured: Measurements): { ratio: number | undefined; targets: TargetRow[] } {
  const { ceiling, hit, cold, coldDirectP50, herd, churn, memory, coldBySize, mercurius, limit } = measured;
  const smallest = coldBySize?.[0];
  const largest = coldBySize?.at(-1);
  const sizeRatio = smallest && largest ? largest.p50 / smallest.p50 : undefined;
  const overMercurius = hit && mercurius ? hit.requestsPerSecond / mercurius.requestsPerSecond : undefined;
  const ratio = ceiling && hit ? hit.requestsPerSecond / ceiling.requestsPerSecond : undefined;
  const overhead = cold ? cold.latency.p50 - EMULATOR_LATENCY_MS : undefined;
  const targets: TargetRow[] = [
    {
      target: 'cache-hit throughput ≥ 0.9 × ceiling',
      measured:
        ratio === undefined
          ? 'n/a'
          : `${ratio.toFixed(3)} × (${Math.round(hit?.requestsPerSecond ?? 0)} vs ${Math.round(ceiling?.requestsPerSecond ?? 0)} req/s)`,
      pass: ratio === undefined ? null : ratio >= 0.9,
    },
    {
      target: `cache-hit p99 ≤ 10 ms at ${HIT_CONNECTIONS} connections`,
      measured: hit
        ? `${hit.latency.p99.toFixed(2)} ms` +
          (ceiling ? ` (the ceiling's own p99: ${ceiling.latency.p99.toFixed(2)} ms)` : '')
        : 'n/a',
      pass: hit ? hit.latency.p99 <= 10 : null,
    },
    {
      target: `miss overhead ≤ 5 ms (p50 − ${EMULATOR_LATENCY_MS} ms)`,
      measured:
        overhead === undefined
          ? 'n/a'
          : `${overhead.toFixed(2)} ms` +
            (coldDirectP50 !== undefined
              ? ` (a direct emulator read: ${coldDirectP50.toFixed(2)} ms, i.e. ` +
                `${((cold?.latency.p50 ?? 0) - coldDirectP50).toFixed(2)} ms over it)`
              : ''),
      pass: overhead === undefined ? null : overhead <= 5,
    },
    {
      target: 'herd → exactly one Clerk membership read sequence',
      measured: herd
        ? `${herd.calls} membership read(s), expected ${herd.expected}; ${herd.errors} errors`
        : 'n/a',
      pass: herd ? herd.calls === herd.expected && herd.errors === 0 : null,
    },
    {
      target: '≤ 1 KiB heap per cached member',
      measured: memory ? `${memory.bytesPerMember.toFixed(0)} B` : 'n/a',
      pass: memory ? memory.bytesPerMember <= 1024 : null,
    },
    {
      target: 'cold first page: largest org ≤ 1.3 × smallest (p50)',
      measured:
        sizeRatio === undefined
          ? 'n/a'
          : `${sizeRatio.toFixed(2)} × (${largest?.members.toLocaleString('en-US')} members ` +
            `${largest?.p50.toFixed(0)} ms vs ${smallest?.members.toLocaleString('en-US')}: ${smallest?.p50.toFixed(0)} ms)`,
      pass: sizeRatio === undefined ? null : sizeRatio <= 1.3,
    },
    {
      target: `cache hit ≥ 2 × Mercurius on the same page, p99 ≤ 5 ms at ${HIT_CONNECTIONS} connections`,
      measured:
        overMercurius === undefined
          ? 'n/a'
          : `${overMercurius.toFixed(2)} × (${Math.round(hit?.requestsPerSecond ?? 0)} vs ` +
            `${Math.round(mercurius?.requestsPerSecond ?? 0)} req/s), p99 ${hit?.latency.p99.toFixed(2)} ms` +
            (limit
              ? `; ${((hit?.requestsPerSecond ?? 0) / limit.requestsPerSecond).toFixed(2)} × the limit ` +
                `(${Math.round(limit.requestsPerSecond)} req/s)`
              : ''),
      pass: overMercurius === undefined ? null : overMercurius >= 2 && (hit?.latency.p99 ?? Infinity) <= 5,
    },
    {
      target: 'churn → zero errors',
      measured: churn ? `${churn.errors} errors` : 'n/a',
      pass: churn ? churn.errors === 0 : null,
    },
  ];
  return { ratio, targets };
}
