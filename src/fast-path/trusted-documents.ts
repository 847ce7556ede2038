/**
 * Trusted documents (GraphQL over HTTP's persisted documents): the frontend's operations, known ahead of time from
 * the manifest GraphQL Code Generator's client preset writes (`persistedDocuments`, sha256), and sent by ID:
 * `{ "documentId": "sha256:<hex>", "variables": … }` (POST) or `?documentId=sha256:<hex>&variables=…` (GET), or as
 * Apollo Client's and urql's persisted-query support sends it, `extensions.persistedQuery.sha256Hash`.
 *
 * Built on Yoga's own persisted-operations plugin (it swaps the document in before parsing, so everything after
 * it, limits and caches included, sees an ordinary query); this module only says where the ID is, where the
 * documents are, and what a refusal says. With `only`, plain queries are refused too: what the server runs is then
 * exactly the manifest, which also closes most of the abuse surface (no crafted queries at all).
 */
import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * What the start says in trusted-only mode, where GraphiQL (and any query typed by hand) is refused: so nobody is
 * sent to a GraphiQL that cannot run anything.
 */
export const TRUSTED_ONLY_NOTICE =
  "TRUSTED_DOCUMENTS_ONLY: only the manifest's documents run (by documentId or extensions.persistedQuery); " +
  "plain queries are refused with PERSISTED_QUERY_ONLY, GraphiQL's included. For GraphiQL in development, " +
  "start with TRUSTED_DOCUMENTS_ONLY=false (the manifest's documents still run by ID).";

/** Document ID → document text, from codegen's `persisted-documents.json` (`{ "sha256:<hex>": "query …" }`). */
export type TrustedDocuments = ReadonlyMap<string, string>;

const DOCUMENT_ID = /^sha256:([0-9a-f]{64})$/;

/** Reads codegen's manifest; throws with the path when it is missing or not a map of hash → document. */
export function loadTrustedDocuments(path: string): TrustedDocuments {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read the trusted documents manifest ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`The trusted documents manifest ${path} must be a JSON object of sha256 hash → document`);
  }
  const documents = new Map<string, string>();
  for (const [hash, document] of Object.entries(parsed)) {
    // codegen writes `sha256:<hex>` keys (hashAlgorithm 'sha256'); bare hex is the older form.
    const id = hash.startsWith('sha256:') ? hash : `sha256:${hash}`;
    if (!DOCUMENT_ID.test(id) || typeof document !== 'string') {
      throw new Error(
        `The trusted documents manifest ${path} has an entry that is not sha256 hash → document`,
      );
    }
    documents.set(id, document);
  }
  return documents;
}

export interface TrustedDocumentsOptions {
  /** The manifest's documents by ID (`loadTrustedDocuments`). Required. */
  documents: TrustedDocuments;
  /**
   * Refuse plain queries (`TRUSTED_DOCUMENTS_ONLY`): only documents of the manifest run. Otherwise a request may
   * send either a document ID or a query.
   * @default false
   */
  only?: boolean;
}

/** The protocol's own message: urql's persistedExchange retries on it (by message), Apollo's link by code too. */
const PERSISTED_QUERY_NOT_FOUND = 'PersistedQueryNotFound';

const APQ_HASH = /^(?:sha256:)?([0-9a-f]{64})$/;

/**
 * The document a request names, as `sha256:<hex>`: GraphQL over HTTP's `documentId` (the POST body's, or the GET
 * query string's), else Apollo's and urql's automatic-persisted-queries form, `extensions.persistedQuery
 * .sha256Hash` (bare hex, or codegen's `sha256:<hex>` when the client sends the document's `__meta__.hash`).
 * `apq` says the request used the latter (its refusals then speak that protocol). Throws BAD_REQUEST for a
 * `persistedQuery` that is not `{ version: 1, sha256Hash }`, and for two different names in one request.
 */
function requestedDocument(
  params: { documentId?: unknown; extensions?: unknown },
  request: Request,
): { id: string; apq: boolean } | null {
  const documentId =
    typeof params.documentId === 'string'
      ? params.documentId
      : request.method === 'GET'
        ? new URL(request.url).searchParams.get('documentId')
        : null;
  const persisted = (params.extensions as { persistedQuery?: unknown } | null | undefined)?.persistedQuery;
  if (persisted === undefined || persisted === null)
    return documentId === null ? null : { id: documentId, apq: false };
  const { version, sha256Hash } = persisted as { version?: unknown; sha256Hash?: unknown };
  if (typeof persisted !== 'object' || version !== 1 || typeof sha256Hash !== 'string') {
    throw badRequest('extensions.persistedQuery must be { "version": 1, "sha256Hash": "<sha256 hex>" }.');
  }
  const hex = APQ_HASH.exec(sha256Hash)?.[1];
  // Not a sha256: no manifest entry has that name (looked up as is, it is simply not found).
  const id = hex ? `sha256:${hex}` : sha256Hash;
  if (documentId !== null && documentId !== id) {
    throw badRequest('documentId and extensions.persistedQuery name different documents: send one of them.');
  }
  return { id, apq: true };
}

function badRequest(message: string) {
  return createGraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
}

/**
 * Runs trusted documents by ID, and refuses an unknown ID (`PERSISTED_QUERY_NOT_FOUND`), a request with neither
 * ID nor query (`BAD_REQUEST`), and in trusted-only mode any plain query (`PERSISTED_QUERY_ONLY`).
 *
 * A request may name a document and send a query too: Apollo's and urql's retry after `PersistedQueryNotFound`
 * does (automatic persisted queries register the query under its hash). Nothing is ever registered here: the
 * named document runs if the manifest has it (the query sent along is ignored, whatever it says); otherwise, in
 * trusted-only mode, the request is refused as not found, and its query never runs; without it, the query runs as
 * any plain query would.
 */
export function useTrustedDocuments({ documents, only = false }: TrustedDocumentsOptions): Plugin {
  const known = (id: string) => DOCUMENT_ID.test(id) && documents.has(id);
  const notFound = (apq: boolean) =>
    createGraphQLError(
      apq
        ? PERSISTED_QUERY_NOT_FOUND
        : 'Unknown documentId: this server runs only the documents of its trusted manifest.',
      { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } },
    );
  const persistedOperations = usePersistedOperations({
    allowArbitraryOperations: !only,
    extractPersistedOperationId: (params, request) =>
      requestedDocument(params as Parameters<typeof requestedDocument>[0], request)?.id ?? null,
    getPersistedOperation: (documentId) => (known(documentId) ? (documents.get(documentId) ?? null) : null),
    customErrors: {
      notFound: ({ params, request }) =>
        notFound(requestedDocument(params as Parameters<typeof requestedDocument>[0], request)?.apq ?? false),
      persistedQueryOnly: () =>
        createGraphQLError(
          'This server runs trusted documents only: send { "documentId": "sha256:…", "variables": … }.',
          { extensions: { code: 'PERSISTED_QUERY_ONLY', http: { status: 400 } } },
        ),
      keyNotFound: () =>
        createGraphQLError(
          only
            ? 'This server runs trusted documents only: send { "documentId": "sha256:…", "variables": … }.'
            : 'Must provide a query or a documentId.',
          { extensions: { code: only ? 'PERSISTED_QUERY_ONLY' : 'BAD_REQUEST', http: { status: 400 } } },
        ),
    },
  }) as Plugin;
  return {
    onPluginInit({ addPlugin }) {
      // Added right after this plugin: its onParams sees the parameters as this one leaves them.
      addPlugin(persistedOperations);
    },
    // Yoga's plugin looks no further than a query when there is one: a named document is settled here first.
    onParams({ params, request, setParams }) {
      if (!params.query) return;
      const named = requestedDocument(params as Parameters<typeof requestedDocument>[0], request);
      if (!named) return;
      if (known(named.id)) setParams({ ...params, query: undefined });
      else if (only) throw notFound(named.apq);
    },
  };
}
