/** What a report row says about a load run: its statistics, its errors, and the Clerk calls behind it. */
import { INVITATIONS_ROUTE, MEMBERSHIPS_ROUTE } from './emulator.js';
import type { LoadResult } from './protocol.js';
import type { ScenarioRow } from './report.js';

/**
 * The row of a load run: its statistics, the Clerk calls the emulator counted (none for the ceiling) and the
 * scenario's notes, then notes on any errors.
 */
export function loadRow(
  connections: number,
  result: LoadResult,
  counters: Record<string, number> | undefined,
  notes: string[],
): Omit<ScenarioRow, 'id' | 'name'> {
  return {
    connections: String(connections),
    ...statsOf(result),
    clerkCalls: counters ? clerkCallsText(counters) : '–',
    notes: [...notes, ...errorNotes(result)].join('; '),
  };
}

/** Non-2xx responses, socket errors and timeouts, and responses with GraphQL `errors`. */
export function errorCount(result: LoadResult): number {
  return result.non2xx + result.socketErrors + result.graphqlErrors;
}

/** The row's numeric cells. */
function statsOf(result: LoadResult) {
  return {
    requestsPerSecond: result.requestsPerSecond,
    p50: result.latency.p50,
    p97_5: result.latency.p97_5,
    p99: result.latency.p99,
    errors: errorCount(result),
  };
}

/** Notes on the errors, when there were any: what kind, and a sample. */
function errorNotes(result: LoadResult): string[] {
  const errors = errorCount(result);
  if (errors === 0) return [];
  return [
    `errors: ${result.non2xx} non-2xx, ${result.socketErrors} socket (${result.timeouts} timeouts), ${result.graphqlErrors} GraphQL`,
    ...(result.errorSamples[0] ? [`e.g. ${result.errorSamples[0].slice(0, 160)}`] : []),
  ];
}

/** The Clerk list reads in the emulator's counters. */
export function clerkReads(counters: Record<string, number>) {
  const memberships = counters[MEMBERSHIPS_ROUTE] ?? 0;
  const invitations = counters[INVITATIONS_ROUTE] ?? 0;
  return { memberships, invitations, total: memberships + invitations };
}

export function clerkCallsText(counters: Record<string, number>): string {
  const reads = clerkReads(counters);
  return `${reads.total} (${reads.memberships} memberships, ${reads.invitations} invitations)`;
}
