/** The committed schema.graphql and typed documents must be exactly what codegen derives from the code. */
import { readFile } from 'node:fs/promises';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.js';

describe('generated files', () => {
  it('schema.graphql and test/gql/ match the Pothos schema and the test queries (run `npm run codegen`)', async () => {
    const outputs = await generate({ ...config, silent: true }, false);
    expect(outputs.map((output: { filename: string }) => output.filename)).toContain('schema.graphql');
    for (const output of outputs as { filename: string; content: string }[]) {
      const committed = await readFile(output.filename, 'utf8').catch(() => '<missing>');
      expect(committed, `${output.filename} is out of date: run npm run codegen`).toBe(output.content);
    }
  }, 60_000);
});
