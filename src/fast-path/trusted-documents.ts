/**
 * Trusted documents (GraphQL over HTTP's persisted documents): the frontend's operations, known ahead of time from
 * the manifest GraphQL Code Generator's client preset writes (`persistedDocuments`, sha256), and sent by ID:
 * `{ "documentId": "sha256:<hex>", "variables": … }` (POST) or `?documentId=sha256:<hex>&variables=…` (GET).
 *
 * Built on Yoga's own persisted-operations plugin (it swaps the document in before parsing, so everything after
 * it, limits and caches included, sees an ordinary query); this module only says where the ID is, where the
 * documents are, and what a refusal says. With `only`, plain queries are refused too: what the server runs is then
 * exactly the manifest, which also closes most of the abuse surface (no crafted queries at all).
 */
import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

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

/** The document ID a request names: the POST body's `documentId`, or the GET query string's. */
function documentIdOf(params: { documentId?: unknown }, request: Request): string | null {
  if (typeof params.documentId === 'string') return params.documentId;
  if (request.method === 'GET') return new URL(request.url).searchParams.get('documentId');
  return null;
}

/**
 * Runs trusted documents by ID, and refuses an unknown ID (`PERSISTED_QUERY_NOT_FOUND`), a request with neither
 * ID nor query (`BAD_REQUEST`), and in trusted-only mode any plain query (`PERSISTED_QUERY_ONLY`).
 */
export function useTrustedDocuments({ documents, only = false }: TrustedDocumentsOptions): Plugin {
  return usePersistedOperations({
    allowArbitraryOperations: !only,
    extractPersistedOperationId: (params, request) =>
      documentIdOf(params as { documentId?: unknown }, request),
    getPersistedOperation: (documentId) =>
      DOCUMENT_ID.test(documentId) ? (documents.get(documentId) ?? null) : null,
    customErrors: {
      notFound: () =>
        createGraphQLError(
          'Unknown documentId: this server runs only the documents of its trusted manifest.',
          {
            extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } },
          },
        ),
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
}
