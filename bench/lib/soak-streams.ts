/**
 * Live subscriptions held open through the soak (bench/soak.ts): `teamChanged` streams over graphql-sse (Yoga's
 * built-in SSE, distinct connections), spread over the replicas and organizations, counting the events they get.
 * A stream the server ends is reopened (a frontend reconnects), so a soak of any length keeps them all open.
 */
import { createClient } from 'graphql-sse';

export interface StreamTarget {
  url: string;
  token: string;
  organizationId: string;
}

export interface StreamsReport {
  streams: number;
  /** Events received in all (each stream's INITIAL included), and the fewest one stream received. */
  events: number;
  fewestEvents: number;
  /** Events carrying GraphQL errors, by code. */
  errorCodes: Record<string, number>;
  /** Streams that ended with a transport error (a non-2xx answer, a dropped connection), and that completed. */
  transportErrors: number;
  completed: number;
  reopened: number;
}

const QUERY = `subscription Live($organizationId: ID!) {
  teamChanged(organizationId: $organizationId) { reasons version members(limit: 5) { totalCount members { userId role } } }
}`;

export function openStreams(targets: readonly StreamTarget[]): { stop(): StreamsReport } {
  const events = targets.map(() => 0);
  const errorCodes: Record<string, number> = {};
  let transportErrors = 0;
  let completed = 0;
  let reopened = 0;
  let stopping = false;
  const disposers: (() => void)[] = [];
  const open = (index: number) => {
    const target = targets[index] as StreamTarget;
    const client = createClient({
      url: `${target.url}/graphql`,
      headers: { authorization: `Bearer ${target.token}` },
      retryAttempts: 0,
    });
    const reopen = () => {
      client.dispose();
      if (stopping) return;
      reopened++;
      setTimeout(() => open(index), 500);
    };
    client.subscribe(
      { query: QUERY, variables: { organizationId: target.organizationId } },
      {
        next(result) {
          events[index] = (events[index] ?? 0) + 1;
          for (const error of result.errors ?? []) {
            const code = String((error.extensions as { code?: unknown } | undefined)?.code ?? 'UNKNOWN');
            errorCodes[code] = (errorCodes[code] ?? 0) + 1;
          }
        },
        error() {
          if (stopping) return;
          transportErrors++;
          reopen();
        },
        complete() {
          if (stopping) return;
          completed++;
          reopen();
        },
      },
    );
    disposers[index] = () => client.dispose();
  };
  for (const index of targets.keys()) open(index);
  return {
    stop() {
      stopping = true;
      for (const dispose of disposers) dispose();
      return {
        streams: targets.length,
        events: events.reduce((sum, n) => sum + n, 0),
        fewestEvents: Math.min(...events),
        errorCodes,
        transportErrors,
        completed,
        reopened,
      };
    },
  };
}
