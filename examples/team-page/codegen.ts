/**
 * GraphQL Code Generator (client preset): typed documents for src/operations.ts, written to src/gql/, and the
 * trusted-documents manifest src/gql/persisted-documents.json (`sha256:<hex>` → document) that the server loads
 * (`TRUSTED_DOCUMENTS_MANIFEST`; the zero-config `npm start` loads this very file). `npm run codegen` (in this
 * folder) regenerates them after an operation or the server's schema changed.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  // The server's schema, as its own codegen prints it. Against a running server: 'http://localhost:4000/graphql'.
  schema: '../../schema.graphql',
  // One file: codegen reads document files concurrently, so several would come out in a varying order.
  documents: ['src/operations.ts'],
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        // Writes persisted-documents.json and puts each document's ID on it (`__meta__.hash`), which the client
        // sends instead of the text (src/client.ts).
        persistedDocuments: { hashAlgorithm: 'sha256' },
      },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string', ID: 'string' } },
    },
  },
};

export default config;
