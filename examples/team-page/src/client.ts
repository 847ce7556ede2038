/**
 * The urql client: queries and mutations over HTTP (`fetchExchange`), the live subscription over Server-Sent Events
 * (graphql-sse, Yoga's distinct-connections mode), and every operation sent as a trusted document: its ID, never
 * its text, so a server with `TRUSTED_DOCUMENTS_ONLY=true` runs it.
 */
import { createClient as createSseClient, type RequestParams } from 'graphql-sse';
import { Client, type Exchange, fetchExchange, makeOperation, mapExchange, subscriptionExchange } from 'urql';
import { GRAPHQL_URL, sessionToken } from './session';

const authorization = () => ({ authorization: `Bearer ${sessionToken()}` });

/**
 * Replaces each operation's document by its ID (GraphQL over HTTP's `documentId`), which codegen put on it
 * (`__meta__.hash`, see codegen.ts). urql keys operations on the full document first, so two operations never share
 * a key; only what goes on the wire changes.
 */
const trustedDocumentsExchange: Exchange = mapExchange({
  onOperation(operation) {
    const documentId = (operation.query as { __meta__?: { hash?: string } }).__meta__?.hash;
    if (!documentId)
      throw new Error('Not a trusted document: define it in src/operations.ts, then npm run codegen');
    const query = { kind: operation.query.kind, definitions: [], documentId };
    return makeOperation(operation.kind, { ...operation, query }, operation.context);
  },
});

const sse = createSseClient({ url: GRAPHQL_URL, headers: authorization });

/**
 * A subscription that stays open: the server completes a stream after its maximum lifetime or when the token
 * expires (reconnect with a fresh token; the first event is the current state again). A stream that ended with an
 * error (FORBIDDEN: access ended) is final.
 */
const liveSubscriptions = subscriptionExchange({
  forwardSubscription: (request) => ({
    subscribe(sink) {
      let stop = () => {};
      let stopped = false;
      const open = () => {
        let failed = false;
        stop = sse.subscribe<Record<string, unknown>, Record<string, unknown>>(request as RequestParams, {
          next(result) {
            if (result.errors) failed = true;
            sink.next(result);
          },
          error: (error) => sink.error(error),
          complete() {
            if (stopped) return;
            if (failed) sink.complete();
            else open();
          },
        });
      };
      open();
      return {
        unsubscribe() {
          stopped = true;
          stop();
        },
      };
    },
  }),
});

export const client = new Client({
  url: GRAPHQL_URL,
  // No document cache: the live subscription says when the page is stale, and the server answers the re-reads
  // from its own cache.
  exchanges: [trustedDocumentsExchange, liveSubscriptions, fetchExchange],
  fetchOptions: () => ({ headers: authorization() }),
  requestPolicy: 'network-only',
});

/**
 * Options for one user action's mutation: a new `Idempotency-Key`, so a retry of the same request (urql's, a
 * proxy's) runs it at most once, while the next click is a new action.
 */
export function oneAction() {
  return { fetchOptions: { headers: { ...authorization(), 'idempotency-key': crypto.randomUUID() } } };
}
