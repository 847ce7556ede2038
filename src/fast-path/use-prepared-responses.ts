/**
 * The Yoga side of prepared responses: when the fast path (src/fast-path/fast-path.ts) hands Yoga a request whose
 * answer may be kept, this plugin notes whether execution finished without errors, and, when the answer is a plain
 * JSON result built only from fresh cached data, keeps its status, headers and bytes as Yoga sends them (after
 * CORS, which runs earlier in Yoga's onResponse chain).
 *
 * Options: `store`, where answers are kept.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { PreparedResponses } from './prepared-responses.js';
import { distinctReads, type Recording } from './recorded-reads.js';

/** What the fast path puts in Yoga's server context for a request whose answer may be kept. */
export interface PreparedCapture {
  key: string;
  /** Whose share of the store it goes in: the viewer's user ID, '' for anonymous callers. */
  owner: string;
  recording: Recording;
  /** The store's generation when the request began (see `PreparedResponses.generation`). */
  generation: number;
}

/** Only plain JSON results are kept: never an event stream or a multipart answer. */
const KEPT_TYPES = /^application\/(graphql-response\+)?json\b/;

export function usePreparedResponses(options: { store: PreparedResponses }): Plugin<{
  prepared?: PreparedCapture;
}> {
  return {
    onExecute: () => ({
      onExecuteDone({ result, args }) {
        const recording = (args.contextValue as { prepared?: PreparedCapture }).prepared?.recording;
        if (!recording) return;
        // An async iterable (@defer/@stream) or any error: never replayed.
        if (Symbol.asyncIterator in result || result.errors?.length) recording.replayable = false;
        else recording.executed = true;
      },
    }),
    async onResponse({ response, serverContext }) {
      const capture = (serverContext as { prepared?: PreparedCapture } | undefined)?.prepared;
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
        { status: response.status, headers, body, reads, organizations },
        capture.owner,
      );
      options.store.count('stored');
    },
  };
}
