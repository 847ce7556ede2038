/**
 * The Yoga side of prepared responses: when the fast path (src/fast-path/fast-path.ts) hands Yoga a request whose
 * answer may be kept, this plugin notes whether execution finished without errors, and, when the answer is a plain
 * JSON result built only from fresh cached data, keeps its status, headers and bytes as Yoga sends them (after
 * CORS, which runs earlier in Yoga's onResponse chain).
 *
 * Added to Yoga by the assembly (src/app.ts), together with `recordingCacheFor`: the reads of a request whose
 * answer may be kept are recorded, as the answer's inputs.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { TeamCache } from '../team/cache.js';
import type { PreparedResponses } from './prepared-responses.js';
import { distinctReads, type Recording, recordingCache } from './recorded-reads.js';

/** What the fast path puts in Yoga's server context for a request whose answer may be kept. */
export interface PreparedCapture {
  key: string;
  /** Whose share of the store it goes in: the viewer's user ID, '' for anonymous callers. */
  owner: string;
  recording: Recording;
  /** The store's generation when the request began (see `PreparedResponses.generation`). */
  generation: number;
}

/** The server context of a request the fast path handed Yoga: `prepared` when its answer may be kept. */
export interface PreparedContext {
  prepared?: PreparedCapture;
}

export interface PreparedResponsesPluginOptions {
  /** Where answers are kept (src/fast-path/prepared-responses.ts). Required. */
  store: PreparedResponses;
}

/**
 * Yoga's `cacheFor`: a request the fast path may keep an answer of reads through a cache that records what it reads
 * (the answer's inputs); any other request reads `cache` itself.
 */
export const recordingCacheFor =
  (cache: TeamCache) =>
  ({ prepared }: PreparedContext): TeamCache =>
    prepared ? recordingCache(cache, prepared.recording) : cache;

/** Only plain JSON results are kept: never an event stream or a multipart answer. */
const KEPT_TYPES = /^application\/(graphql-response\+)?json\b/;

export function usePreparedResponses(options: PreparedResponsesPluginOptions): Plugin<PreparedContext> {
  return {
    onExecute: () => ({
      onExecuteDone({ result, args }) {
        const recording = (args.contextValue as PreparedContext).prepared?.recording;
        if (!recording) return;
        // A mutation is a write, never an answer to replay (a retry writes again, or replays through its
        // Idempotency-Key); an async iterable (@defer/@stream) or any error: never replayed either.
        const operation = getOperationAST(args.document, args.operationName)?.operation;
        if (operation !== 'query' || Symbol.asyncIterator in result || result.errors?.length)
          recording.replayable = false;
        else recording.executed = true;
      },
    }),
    async onResponse({ response, serverContext }) {
      const capture = (serverContext as PreparedContext | undefined)?.prepared;
      if (!capture) return;
      const { recording } = capture;
      if (!recording.executed || !recording.replayable || response.status !== 200) return;
      // A revocation landed while it was answered: its evidence may be void; the next request is answered afresh.
      if (capture.generation !== options.store.generation()) return;
      if (!KEPT_TYPES.test(response.headers.get('content-type') ?? '')) return;
      const reads = distinctReads(recording.reads);
      if (!reads) return;
      const headers: OutgoingHttpHeaders = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      const body = Buffer.from(await response.clone().arrayBuffer());
      const organizations = [
        ...new Set(reads.filter((read) => read.kind !== 'user_memberships').map((read) => read.id)),
      ];
      options.store.set(
        capture.key,
        { status: response.status, headers, body, reads, organizations, validUntil: recording.validUntil },
        capture.owner,
      );
      options.store.count('stored');
    },
  };
}
