/**
 * GraphQL Code Generator. The schema is the Pothos code; this prints it to the committed `schema.graphql` and
 * writes typed documents for the `graphql(...)` queries in the tests (test/gql/).
 *
 * `npm run codegen` regenerates both; test/schema.test.ts fails when the committed files differ from the code.
 */
import { readdirSync } from 'node:fs';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';
import { schema } from './src/graphql/schema.js';

/** Test files in a fixed order: with a glob, codegen's output order (and so the committed file) varies per run. */
const testDocuments = readdirSync('test', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.startsWith('gql'))
  .sort()
  .map((file) => `test/${file}`);

const config: CodegenConfig = {
  schema: printSchema(schema),
  documents: testDocuments,
  ignoreNoDocuments: true,
  // Keep the code's field order (the contract's), instead of the loader's default alphabetical sort.
  config: { sort: false },
  generates: {
    'schema.graphql': { plugins: ['schema-ast'], config: { includeDirectives: true } },
    'test/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
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
