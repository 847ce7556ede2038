/**
 * GraphQL Code Generator. The schema is the Pothos code; this prints it to the committed `schema.graphql` and
 * writes typed documents for the test operations in test/documents.ts (test/gql/).
 *
 * `npm run codegen` regenerates both; test/schema.test.ts fails when the committed files differ from the code.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';
import { schema } from './src/graphql/schema.js';

const config: CodegenConfig = {
  schema: printSchema(schema),
  // One file: codegen reads document files concurrently, so several would come out in a varying order.
  documents: ['test/documents.ts'],
  ignoreNoDocuments: true,
  // Keep the code's field order (the contract's), instead of the loader's default alphabetical sort.
  config: { sort: false },
  generates: {
    'schema.graphql': { plugins: ['schema-ast'], config: { includeDirectives: true } },
    'test/gql/': {
      preset: 'client',
      // persistedDocuments: also writes test/gql/persisted-documents.json (sha256 → document), the manifest a
      // trusted-documents server loads (TRUSTED_DOCUMENTS_MANIFEST), and puts each document's hash on it.
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
      config: {
        // ESM with NodeNext resolution: relative imports need their .js extension.
        emitLegacyCommonJSImports: false,
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', ID: 'string' },
      },
    },
  },
};

export default config;
