/**
 * Headers that keep proxies from buffering a live stream (GraphQL over SSE). nginx buffers proxied answers unless
 * told otherwise per response (`X-Accel-Buffering: no`), and a cache in between must never keep a stream
 * (`Cache-Control: no-cache`, which Yoga already sets; set here too so the guarantee does not rest on Yoga's
 * defaults). Without them a proxy can hold the stream's events, `INITIAL` included, until its buffer fills.
 */
import type { Plugin } from 'graphql-yoga';

/** What every `text/event-stream` answer carries. */
export const STREAM_HEADERS: Readonly<Record<string, string>> = {
  'x-accel-buffering': 'no',
  'cache-control': 'no-cache',
};

export function useStreamHeaders(): Plugin {
  return {
    onResponse({ response }) {
      if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return;
      for (const [name, value] of Object.entries(STREAM_HEADERS)) response.headers.set(name, value);
    },
  };
}
