/**
 * Prepared responses: the bytes Yoga answered a request with, kept so that the next identical request can be
 * answered with them while nothing they were built from has changed.
 *
 * An entry is keyed by everything Yoga's answer can depend on besides the team data: the request as sent (method,
 * URL, body: the document or document ID, operation name, variables), the headers Yoga reads (`Accept` for the
 * response format, `Content-Type`, `Origin` for CORS) and who asks (the verified viewer, less its token's dates,
 * which only authorization reads, and authorization runs again on every request). The team data it was built from
 * is its list of recorded cache reads (src/fast-path/recorded-reads.ts): valid while each is still the cache's
 * fresh value object. An invalidation, a webhook delta, a re-read or the TTL replace or retire that object; any
 * revocation record retires every entry at once (`retireAll`), since revocations change answers without a cache
 * change.
 *
 * Bounded by count, least recently used first out (lru-cache); size, hits, misses and retirements are in /metrics.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RecordedRead } from './recorded-reads.js';

export interface PreparedResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  /** The cache values it was built from, each once. */
  reads: readonly RecordedRead[];
  /** Organizations the answer was authorized for: authorization runs again for each before a replay. */
  organizations: readonly string[];
}

/** Why a lookup did not replay (the `outcome` label). */
export type PreparedOutcome = 'hit' | 'miss' | 'retired' | 'refused' | 'stored';

export interface PreparedResponses {
  get(key: string): PreparedResponse | undefined;
  set(key: string, prepared: PreparedResponse): void;
  /** Drops one entry found out of date. */
  retire(key: string): void;
  /** Drops every entry: a revocation was recorded. */
  retireAll(): void;
  /**
   * Counts `retireAll` calls: an answer whose request began before one (its capture noted the generation) may have
   * been built on evidence a revocation voids, and is not kept.
   */
  generation(): number;
  count(outcome: PreparedOutcome): void;
  size(): number;
}

export interface PreparedResponsesOptions {
  /** Entries kept at most (`PREPARED_RESPONSES_MAX`). */
  max: number;
  /** Bytes kept at most, keys and bodies (`PREPARED_RESPONSES_MAX_MB`): many large pages cannot use up memory. */
  maxBytes: number;
  /** Where the counters and the size gauge go (the app's registry). */
  registry?: Registry;
}

export function createPreparedResponses({
  max,
  maxBytes,
  registry,
}: PreparedResponsesOptions): PreparedResponses {
  /** Key and body bytes of each entry (a key holds the request's body, up to PREPARED_BODY_MAX_BYTES). */
  const sizes = new WeakMap<PreparedResponse, number>();
  const entries = new LRUCache<string, PreparedResponse>({
    max: Math.max(1, max),
    maxSize: Math.max(1, maxBytes),
    // An answer larger than the whole budget is simply not kept (lru-cache refuses it).
    sizeCalculation: (prepared) => sizes.get(prepared) ?? prepared.body.length,
  });
  const outcomes = registry
    ? new Counter({
        name: 'prepared_responses_total',
        help:
          'Prepared responses by outcome: hit = replayed, miss = none for this request, retired = out of date ' +
          '(dropped, answered by Yoga), refused = authentication or authorization said no (answered by Yoga), ' +
          'stored = a new one kept.',
        labelNames: ['outcome'] as const,
        registers: [registry],
      })
    : undefined;
  const byOutcome = new Map<PreparedOutcome, { inc(): void }>();
  let generation = 0;
  if (registry) {
    new Gauge({
      name: 'prepared_responses',
      help: `Prepared responses held (at most PREPARED_RESPONSES_MAX = ${max} and ${maxBytes} bytes, least recently used out first).`,
      registers: [registry],
      collect() {
        this.set(entries.size);
      },
    });
  }
  return {
    get: (key) => entries.get(key),
    set(key, prepared) {
      sizes.set(prepared, key.length + prepared.body.length);
      entries.set(key, prepared);
    },
    retire: (key) => void entries.delete(key),
    retireAll() {
      generation++;
      entries.clear();
    },
    generation: () => generation,
    count(outcome) {
      if (!outcomes) return;
      let counter = byOutcome.get(outcome);
      if (!counter) {
        counter = outcomes.labels(outcome);
        byOutcome.set(outcome, counter);
      }
      counter.inc();
    },
    size: () => entries.size,
  };
}
