/**
 * The nearest-rank percentile of ascending `sorted` values (`p` in percent: 50, 99): the smallest value with at
 * least p % of the values at or below it. NaN for no values.
 */
export function percentile(sorted: readonly number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}
