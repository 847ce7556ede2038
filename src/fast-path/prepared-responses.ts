/**
 * Prepared responses: the bytes Yoga answered a request with, kept so that the next identical request can be
 * answered with them while nothing they were built from has changed.
 *
 * An entry is keyed by everything Yoga's answer can depend on besides the team data: the request as sent (method,
 * URL, body: the document or document ID, operation name, variables), the headers Yoga reads (`Accept` for the
 * response format, `Content-Type`, `Origin` for CORS) and who asks (the verified viewer, less its token's dates,
 * which only authorization reads, and authorization runs again on every request). The team data it was built from
 * is its list of recorded cache reads (src/fast-path/recorded-reads.ts): valid while each entry's fresh version is
 * still the one recorded. An invalidation, a webhook delta, a re-read or the TTL give the entry a new version or
 * retire it; any revocation record retires every entry at once (`retireAll`), since revocations change answers
 * without a cache change. An entry holds its key, status, headers, bytes and those versions: nothing of the cache.
 *
 * **Fair.** Each viewer (user; anonymous callers are one) has a share of the store: `perViewerMax` entries and the
 * same fraction of `maxBytes`. A viewer over its share loses its own least recently used entries, so one viewer's
 * unique queries (each a miss, each kept) churn only that viewer's entries. When the whole store is full (many
 * viewers), the viewer holding the most entries gives up its least recently used one: a newcomer takes from the
 * heaviest, never from viewers below them.
 *
 * Bytes are what an entry really retains (key, body, headers, reads, bookkeeping; see `retainedBytes`). Size,
 * bytes, hits, misses, retirements and evictions are in /metrics.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RecordedRead } from './recorded-reads.js';

export interface PreparedResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  /** The cache entries it was built from, each once, with the versions it saw. */
  reads: readonly RecordedRead[];
  /** Organizations the answer was authorized for: authorization runs again for each before a replay. */
  organizations: readonly string[];
  /** Epoch ms from which it is no longer replayed (an invitation it lists expires); Infinity when none. */
  validUntil: number;
}

/** Why a lookup did not replay (the `outcome` label). */
export type PreparedOutcome = 'hit' | 'miss' | 'retired' | 'refused' | 'stored';

export interface PreparedResponses {
  get(key: string): PreparedResponse | undefined;
  /** Keeps an answer in `owner`'s share (the viewer's user ID; '' for anonymous callers). */
  set(key: string, prepared: PreparedResponse, owner: string): void;
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
  /** What the entries retain, as `retainedBytes` counts it. */
  bytes(): number;
}

export interface PreparedResponsesOptions {
  /** Entries kept at most (`PREPARED_RESPONSES_MAX`). */
  max: number;
  /**
   * Bytes kept at most (`PREPARED_RESPONSES_MAX_MB`), counted as `retainedBytes` does: many large pages cannot use
   * up memory.
   */
  maxBytes: number;
  /**
   * Entries one viewer may hold (`PREPARED_RESPONSES_PER_VIEWER`); its byte share is the same fraction of
   * `maxBytes`. Past it, that viewer's own least recently used entries go.
   * @default max (no share: one viewer may fill the store)
   */
  perViewerMax?: number;
  /** Where the counters and the gauges go (the app's registry). */
  registry?: Registry;
}

// What V8 spends besides the payload (measured on Node 20 by test/prepared-responses.test.ts, rounded up): the
// entry's objects and its slots in two maps; a Buffer's object; a header's property and string; a read's object.
const ENTRY_OVERHEAD = 400;
const BUFFER_OVERHEAD = 160;
const HEADER_OVERHEAD = 64;
const READ_OVERHEAD = 80;
const STRING_OVERHEAD = 24;

/**
 * Bytes a string keeps, from above: V8 stores one byte per Latin-1 character and two otherwise; UTF-8 spends at
 * least as many (and is what Node measures fastest).
 */
const stringBytes = (text: string) => STRING_OVERHEAD + Buffer.byteLength(text, 'utf8');

/**
 * What an entry keeps alive: its key (which holds the request's body), the answer's bytes and headers, its reads
 * (kind, ID, version) and organizations, and the objects that hold them. An estimate from above, checked against the
 * heap by test/prepared-responses.test.ts.
 */
export function retainedBytes(key: string, prepared: PreparedResponse): number {
  let bytes = ENTRY_OVERHEAD + stringBytes(key) + BUFFER_OVERHEAD + prepared.body.byteLength;
  for (const [name, value] of Object.entries(prepared.headers)) {
    bytes += HEADER_OVERHEAD + stringBytes(name);
    if (Array.isArray(value)) for (const each of value) bytes += stringBytes(each);
    else bytes += stringBytes(String(value));
  }
  for (const read of prepared.reads) bytes += READ_OVERHEAD + stringBytes(read.id);
  for (const organization of prepared.organizations) bytes += STRING_OVERHEAD + stringBytes(organization);
  return bytes;
}

interface Held {
  key: string;
  prepared: PreparedResponse;
  share: Share;
  bytes: number;
}

interface Share {
  owner: string;
  /** Its entries, least recently used first (a lookup moves an entry to the end). */
  entries: Map<string, Held>;
  bytes: number;
}

export function createPreparedResponses({
  max,
  maxBytes,
  perViewerMax = max,
  registry,
}: PreparedResponsesOptions): PreparedResponses {
  const totalMax = Math.max(1, max);
  const totalBytes = Math.max(1, maxBytes);
  const shareMax = Math.max(1, Math.min(perViewerMax, totalMax));
  const shareBytes = Math.max(1, Math.floor((totalBytes * shareMax) / totalMax));
  const entries = new Map<string, Held>();
  const shares = new Map<string, Share>();
  /** Shares by how many entries they hold, so the heaviest is found at once when the store is full. */
  const sharesBySize = new Map<number, Set<Share>>();
  let heaviest = 0;
  let bytes = 0;
  let generation = 0;

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
  const evictions = registry
    ? new Counter({
        name: 'prepared_responses_evicted_total',
        help:
          'Prepared responses dropped for room: viewer_share = the viewer was over its share ' +
          '(PREPARED_RESPONSES_PER_VIEWER) and lost its own least recently used one; store_full = the store was ' +
          'full and the viewer holding the most lost its least recently used one.',
        labelNames: ['reason'] as const,
        registers: [registry],
      })
    : undefined;
  const byOutcome = new Map<PreparedOutcome, { inc(): void }>();
  if (registry) {
    new Gauge({
      name: 'prepared_responses',
      help: `Prepared responses held (at most PREPARED_RESPONSES_MAX = ${max}, ${shareMax} per viewer).`,
      registers: [registry],
      collect() {
        this.set(entries.size);
      },
    });
    new Gauge({
      name: 'prepared_responses_bytes',
      help: `Memory the prepared responses retain: keys, bodies, headers, reads (at most ${totalBytes}, ${shareBytes} per viewer).`,
      registers: [registry],
      collect() {
        this.set(bytes);
      },
    });
  }

  /** Moves a share between size buckets after its entry count changed from `from`. */
  function resized(share: Share, from: number) {
    const to = share.entries.size;
    const bucket = sharesBySize.get(from);
    bucket?.delete(share);
    if (bucket?.size === 0) sharesBySize.delete(from);
    if (to > 0) {
      const next = sharesBySize.get(to);
      if (next) next.add(share);
      else sharesBySize.set(to, new Set([share]));
    } else shares.delete(share.owner);
    if (to > heaviest) heaviest = to;
    // Counts move by one: when the heaviest bucket empties, the next one down holds the share that left it.
    while (heaviest > 0 && !sharesBySize.has(heaviest)) heaviest--;
  }

  function remove(held: Held) {
    entries.delete(held.key);
    const { share } = held;
    share.entries.delete(held.key);
    share.bytes -= held.bytes;
    bytes -= held.bytes;
    resized(share, share.entries.size + 1);
  }

  function evictOldest(share: Share, reason: 'viewer_share' | 'store_full') {
    const oldest = share.entries.values().next().value;
    if (!oldest) return;
    remove(oldest);
    evictions?.labels(reason).inc();
  }

  return {
    get(key) {
      const held = entries.get(key);
      if (!held) return undefined;
      // Most recently used of its share.
      held.share.entries.delete(key);
      held.share.entries.set(key, held);
      return held.prepared;
    },
    set(key, prepared, owner) {
      const size = retainedBytes(key, prepared);
      const existing = entries.get(key);
      if (existing) remove(existing);
      // An answer larger than a viewer's share is simply not kept.
      if (size > shareBytes) return;
      // Room in its own share first: from its own least recently used entries.
      const own = shares.get(owner);
      while (own && own.entries.size > 0 && (own.entries.size >= shareMax || own.bytes + size > shareBytes))
        evictOldest(own, 'viewer_share');
      // Then room in the store: from whoever holds the most.
      while (entries.size > 0 && (entries.size >= totalMax || bytes + size > totalBytes)) {
        const [victim] = sharesBySize.get(heaviest) ?? [];
        if (!victim) break;
        evictOldest(victim, 'store_full');
      }
      // (Its share is gone if its last entry just went.)
      let share = shares.get(owner);
      if (!share) {
        share = { owner, entries: new Map(), bytes: 0 };
        shares.set(owner, share);
      }
      const held: Held = { key, prepared, share, bytes: size };
      entries.set(key, held);
      share.entries.set(key, held);
      share.bytes += size;
      bytes += size;
      resized(share, share.entries.size - 1);
    },
    retire(key) {
      const held = entries.get(key);
      if (held) remove(held);
    },
    retireAll() {
      generation++;
      entries.clear();
      shares.clear();
      sharesBySize.clear();
      heaviest = 0;
      bytes = 0;
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
    bytes: () => bytes,
  };
}
