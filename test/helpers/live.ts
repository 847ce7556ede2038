/**
 * A live subscription as a frontend holds one: `graphql-sse`'s client (distinct connections mode, Yoga's built-in
 * SSE), with the events it receives queued so a test can await them one by one instead of sleeping.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type ExecutionResult } from 'graphql-sse';

export interface LiveEvent<TData> extends ExecutionResult<TData, unknown> {
  /** Epoch ms when the client received it. */
  receivedAt: number;
  /** Its place in this process's order of happenings (`happened()`): compare with other happenings, not times. */
  order: number;
}

let happenings = 0;
/**
 * Stamps a happening in this process (an event received, a webhook answered...) with its place in order, so a test
 * can say "this came after that" without reading a clock.
 */
export function happened(): number {
  happenings += 1;
  return happenings;
}

export interface LiveSubscription<TData> {
  /** The next event not yet taken (waits for it); rejects once the stream is over with nothing left to take. */
  next(): Promise<LiveEvent<TData>>;
  /** Every event received so far. */
  readonly received: LiveEvent<TData>[];
  /** Resolves when the stream ends: `complete`, or the error the client reported (e.g. a NetworkError). */
  readonly ended: Promise<{ kind: 'complete' } | { kind: 'error'; error: unknown }>;
  /** True once the stream has ended. */
  readonly isOver: boolean;
  /** Closes it from the client's side, as a page that navigates away. */
  dispose(): void;
}

export function subscribe<TData, TVariables extends Record<string, unknown>>(
  url: string,
  token: string | null,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
): LiveSubscription<TData> {
  const client = createClient({
    url: `${url}/graphql`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    // A test wants to see the first failure, not five retries with backoff.
    retryAttempts: 0,
  });
  const received: LiveEvent<TData>[] = [];
  let taken = 0;
  let over = false;
  let wake: (() => void) | undefined;
  let settle!: (end: { kind: 'complete' } | { kind: 'error'; error: unknown }) => void;
  const ended = new Promise<{ kind: 'complete' } | { kind: 'error'; error: unknown }>((resolve) => {
    settle = resolve;
  });
  const stop = (end: { kind: 'complete' } | { kind: 'error'; error: unknown }) => {
    over = true;
    settle(end);
    wake?.();
    client.dispose();
  };
  const dispose = client.subscribe<TData>(
    { query: print(document), variables },
    {
      next(result) {
        received.push({ ...result, receivedAt: Date.now(), order: happened() });
        wake?.();
      },
      error: (error) => stop({ kind: 'error', error }),
      complete: () => stop({ kind: 'complete' }),
    },
  );
  return {
    received,
    ended,
    get isOver() {
      return over;
    },
    async next() {
      while (taken >= received.length) {
        if (over) throw new Error(`the stream ended after ${received.length} event(s)`);
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      return received[taken++] as LiveEvent<TData>;
    },
    dispose() {
      dispose();
      client.dispose();
    },
  };
}
