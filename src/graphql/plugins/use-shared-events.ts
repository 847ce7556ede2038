/**
 * Subscriptions run on graphql-js (`createSourceEventStream`, then `execute` per event), with one change: an event
 * that says it may be shared (`shareKey` on the payload) is executed **once** per distinct question (document,
 * operation, variables), and every subscriber asking that question gets that one result, serialized once.
 *
 * Why: a team page's N subscribers all ask the same question of the same event. Executing and serializing the
 * page (20 members, their invitations) per subscriber made the fan-out to 1,000 subscribers cost about 0.75 ms of
 * CPU each; shared, each subscriber costs its own authorization and the write of its bytes.
 *
 * Why it is safe: a payload carries a `shareKey` only after its subscriber was authorized for this very event, and
 * only when the answer depends on the event alone (not on who asks: `TeamChange` has no viewer-dependent field).
 * A change to that (a field that depends on the viewer or on the context) must drop the `shareKey`.
 *
 * Also why graphql-js and not Yoga's default executor (@graphql-tools/executor): the latter keeps each stream's last
 * result alive (a suspended generator holds it) until the next event, about 8 KiB per open stream for a team page.
 */
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/** A subscription payload whose result may be shared: equal keys mean the same event, the same answer. */
export interface Shareable {
  readonly shareKey?: string;
}

export interface SharedEventsOptions {
  /** Results kept for sharing (the newest events' answers). @default 1000 */
  maxResults?: number;
}

type Result = ExecutionResult & { stringify?: (value: unknown) => string };

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

const shareKeyOf = (payload: unknown): string | undefined => {
  const key = (payload as Shareable | null)?.shareKey;
  return typeof key === 'string' ? key : undefined;
};

export function useSharedEvents(options: SharedEventsOptions = {}): Plugin {
  const results = new LRUCache<string, Promise<Result>>({ max: options.maxResults ?? 1000 });
  // Yoga's parse cache hands out one DocumentNode per query text: an ID per document names the question cheaply.
  const documentIds = new WeakMap<DocumentNode, number>();
  let lastDocumentId = 0;

  /** One execution, serialized at most once however many subscribers write it. */
  const executeOnce = async (args: ExecutionArgs): Promise<Result> => {
    const result: Result = await execute(args);
    let serialized: string | undefined;
    const stringify = (value: unknown) => {
      serialized ??= JSON.stringify(value);
      return serialized;
    };
    // Yoga's result processors use `result.stringify` when present (graphql-jit's convention).
    Object.defineProperty(result, 'stringify', { value: stringify, enumerable: false });
    return result;
  };

  async function subscribe(args: ExecutionArgs) {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    let documentId = documentIds.get(args.document);
    if (documentId === undefined) {
      documentId = ++lastDocumentId;
      documentIds.set(args.document, documentId);
    }
    const question = `${documentId} ${args.operationName ?? ''} ${JSON.stringify(args.variableValues ?? {})}`;
    const events = source[Symbol.asyncIterator]();

    const resultOf = (payload: unknown): Promise<Result> => {
      const shareKey = shareKeyOf(payload);
      if (shareKey === undefined) return Promise.resolve(execute({ ...args, rootValue: payload }));
      const key = `${shareKey} ${question}`;
      let result = results.get(key);
      if (!result) {
        result = executeOnce({ ...args, rootValue: payload });
        results.set(key, result);
      }
      return result;
    };

    // A plain iterator: `return()` reaches the source at once (see team-changed.ts on why that matters).
    const iterator: AsyncIterableIterator<Result> = {
      async next() {
        const event = await events.next();
        if (event.done) return { done: true, value: undefined };
        return { done: false, value: await resultOf(event.value) };
      },
      async return() {
        await events.return?.();
        return { done: true, value: undefined };
      },
      async throw(error: unknown) {
        if (events.throw) {
          const event = await events.throw(error);
          if (!event.done) return { done: false, value: await resultOf(event.value) };
        }
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return iterator;
  }

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe as Parameters<typeof setSubscribeFn>[0]);
    },
  };
}
