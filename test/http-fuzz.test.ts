/**
 * The HTTP layer of /graphql meets anonymous junk (issue 19, items 5 and 7): whatever the method, Content-Type (odd
 * casing, parameters), body (not JSON, wrong shapes, huge or deeply nested values), query string, variables,
 * extensions or documentId, the answer is below 500, every error carries `extensions.code`, no parser text leaks in
 * production, and the server logs nothing above info. Fuzzed with fast-check, the fast path on (the default), in
 * development and in production mode; plus the fixed cases the issue names, and CORS's `Origin: null`.
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/logger.js';
import { type Harness, startHarness } from './helpers/harness.js';

const MANIFEST = fileURLToPath(new URL('./gql/persisted-documents.json', import.meta.url));
const KNOWN_DOCUMENT_ID = Object.keys(
  (await import('./gql/persisted-documents.json', { with: { type: 'json' } })).default,
)[0] as string;

interface Server {
  h: Harness;
  logLines: string[];
  production: boolean;
}

async function startServer(production: boolean): Promise<Server> {
  const logLines: string[] = [];
  const h = await startHarness({
    emulator: { seed: 'demo' },
    config: {
      production,
      graphiqlEnabled: !production,
      introspectionEnabled: !production,
      trustedDocumentsManifest: MANIFEST,
      corsOrigins: ['https://app.example.com', 'https://admin.example.com'],
    },
    logger: createLogger('debug', (line) => logLines.push(line)),
  });
  return { h, logLines, production };
}

interface Sent {
  method: string;
  search: string;
  headers: Record<string, string>;
  body?: string;
}

/** Flips the case of some letters: media types and their parameters are case-insensitive. */
const oddCasing = (text: string) =>
  fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((flips) => [...text].map((c, i) => (flips[i] ? c.toUpperCase() : c)).join(''));

const contentType = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        'application/json',
        'application/graphql+json',
        'application/graphql',
        'application/x-www-form-urlencoded',
        'multipart/form-data',
        'text/plain',
        'application/xml',
        '',
        'constructor',
        '*/*',
      ),
      fc.constantFrom('', '; charset=utf-8', '; charset=latin1', ';', '; boundary=x', ', text/plain'),
    )
    .chain(([type, parameter]) => oddCasing(`${type}${parameter}`)),
  fc.string({ maxLength: 40 }),
);

const accept = fc.constantFrom(
  undefined,
  'application/json',
  'application/graphql-response+json',
  'application/graphql-response+json, application/json',
  '*/*',
  'text/html',
  'text/event-stream',
  'multipart/mixed',
  'application/xml',
);

const queries = fc.oneof(
  fc.constantFrom(
    '{ __typename }',
    '{ viewer { userId } }',
    'mutation { x }',
    'mutation M { createThing }',
    'subscription { x }',
    'subscription { teamChanged(organizationId: "org_x") { organizationId } }',
    '{ organization(id: "org_x") { members(limit: 5) { totalCount } } }',
    'query Q($limit: Int!) { organization(id: "org_x") { members(limit: $limit) { totalCount } } }',
    'query A { __typename } query B { __typename }',
    '{ __schema { types { name } } }',
    '{',
    '',
    `{ ${'a { '.repeat(60)}${' }'.repeat(60)} }`,
  ),
  fc.string({ maxLength: 200 }),
);

/** JSON values of every shape, some deeply nested or long. */
const json = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.integer({ min: 1, max: 3000 }).map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
  fc.integer({ min: 1, max: 90_000 }).map((length) => 'x'.repeat(length)),
);

const params = fc.record(
  {
    query: fc.oneof(queries, json),
    variables: fc.oneof(json, fc.dictionary(fc.constantFrom('limit', 'id', 'x'), json)),
    extensions: fc.oneof(json, fc.constant({ persistedQuery: { version: 1, sha256Hash: 'abc' } })),
    operationName: fc.oneof(fc.constantFrom('Q', 'A', 'nope'), json),
    documentId: fc.oneof(fc.constantFrom(KNOWN_DOCUMENT_ID, 'sha256:abc', 'nope'), json),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  params.map((value) => JSON.stringify(value)),
  json.map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 300 }),
  fc.constantFrom('{"query": ', '{"query":"{ __typename }"', 'null', '[]', '"x"', '\u0000', '%7B'),
  // Query-string-shaped bodies (form-encoded requests) with bad JSON in them.
  fc
    .tuple(queries, fc.string({ maxLength: 30 }))
    .map(([query, junk]) => `query=${encodeURIComponent(query)}&variables=${encodeURIComponent(junk)}`),
);

/** A query string: GraphQL's parameters (raw text: JSON or not), sometimes repeated, sometimes unknown ones. */
const search = fc
  .array(
    fc.tuple(
      fc.constantFrom('query', 'variables', 'extensions', 'operationName', 'documentId', 'foo'),
      fc.oneof(
        queries,
        json.map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 50 }),
        fc.constantFrom(KNOWN_DOCUMENT_ID, '{bad', 'null', '[1,2]'),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${new URLSearchParams(pairs).toString()}` : ''));

const sent: fc.Arbitrary<Sent> = fc
  .record({
    method: fc.constantFrom(
      'GET',
      'GET',
      'POST',
      'POST',
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'OPTIONS',
      'HEAD',
    ),
    search,
    contentType: fc.option(contentType),
    accept,
    origin: fc.option(fc.constantFrom('null', 'https://app.example.com', 'https://evil.example.com')),
    body: fc.option(body),
  })
  .map(({ method, search, contentType, accept, origin, body }) => ({
    method,
    search,
    headers: {
      ...(contentType !== null ? { 'content-type': contentType } : {}),
      ...(accept ? { accept } : {}),
      ...(origin ? { origin } : {}),
    },
    ...(body !== null && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
  }));

/** What a server answered: the checks every answer must pass. */
async function send(server: Server, request: Sent) {
  const response = await fetch(`${server.h.url}/graphql${request.search}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined ? { body: request.body } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

function expectWellAnswered(server: Server, request: Sent, answer: Awaited<ReturnType<typeof send>>) {
  const context = JSON.stringify({ request, status: answer.status, body: answer.text.slice(0, 500) });
  expect(answer.status, context).toBeLessThan(500);
  // Never an origin the server was not configured with, and never `null`.
  const allowed = answer.headers.get('access-control-allow-origin');
  if (allowed !== null)
    expect(['https://app.example.com', 'https://admin.example.com'], context).toContain(allowed);
  const type = answer.headers.get('content-type') ?? '';
  // JSON, or the same results as the data of SSE events or as the parts of a multipart/mixed answer.
  const results = !answer.text
    ? []
    : /^application\/(graphql-response\+)?json/.test(type)
      ? [answer.text]
      : /^text\/event-stream/.test(type)
        ? [...answer.text.matchAll(/^data: (.+)$/gm)].map((match) => match[1] as string)
        : /^multipart\/mixed/.test(type)
          ? [...answer.text.matchAll(/^(\{.*\})\r?$/gm)].map((match) => match[1] as string)
          : [];
  const errors = results.flatMap(
    (result) => (JSON.parse(result) as { errors?: { extensions?: { code?: unknown } }[] }).errors ?? [],
  );
  for (const error of errors)
    expect(typeof error.extensions?.code, `${context}: an error without a code`).toBe('string');
  // Every error answer says why, except where there is no body to say it in: HEAD, and 406 (the client accepts no
  // media type we answer in).
  if (answer.status >= 400 && request.method !== 'HEAD' && answer.status !== 406)
    expect(errors.length, `${context}: an error answer without errors`).toBeGreaterThan(0);
  if (server.production) {
    // The JSON parser's own words ("Unexpected token", "at position 3") stay in the server.
    expect(answer.text, context).not.toMatch(/at position \d|Unexpected (token|end of JSON)|stack/);
  }
  const loud = server.logLines.filter((line) => /"level":"(warn|error)"/.test(line));
  server.logLines.length = 0;
  expect(loud, context).toEqual([]);
}

describe.each([
  ['development', false],
  ['production', true],
])('/graphql in %s mode, fast path on', (_mode, production) => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer(production);
  });
  afterAll(() => server.h.close());

  it('answers anonymous junk with a 4xx (or a GraphQL answer) carrying codes, and logs nothing above info', async () => {
    await fc.assert(
      fc.asyncProperty(sent, async (request) => {
        expectWellAnswered(server, request, await send(server, request));
      }),
      { numRuns: 250 },
    );
  });

  it.each<[string, Sent, number]>([
    [
      'mutation (the schema has no Mutation type)',
      {
        method: 'POST',
        search: '',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: 'mutation { x }' }),
      },
      400,
    ],
    [
      'GET with variables that are not JSON',
      { method: 'GET', search: '?query=%7B__typename%7D&variables=%7Bbad', headers: {} },
      400,
    ],
    [
      'GET with extensions that are not JSON',
      { method: 'GET', search: '?query=%7B__typename%7D&extensions=%7Bbad', headers: {} },
      400,
    ],
    [
      'POST with a body that is not JSON',
      { method: 'POST', search: '', headers: { 'content-type': 'application/json' }, body: '{"query": ' },
      400,
    ],
    [
      'POST multipart (no uploads here)',
      {
        method: 'POST',
        search: '',
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
        body: '--x--',
      },
      415,
    ],
    ['POST without a Content-Type', { method: 'POST', search: '', headers: {}, body: '{}' }, 415],
  ])('%s: a 4xx with a code, nothing logged above info', async (_name, request, status) => {
    const answer = await send(server, request);
    expect(answer.status).toBe(status);
    expectWellAnswered(server, request, answer);
  });

  it('Content-Type: Application/JSON; Charset=UTF-8 is JSON (media types are case-insensitive)', async () => {
    const answer = await send(server, {
      method: 'POST',
      search: '',
      headers: { 'content-type': 'Application/JSON; Charset=UTF-8' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('CORS never allows Origin: null', () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
  const simple = (url: string, origin: string) =>
    fetch(`${url}/graphql?query=%7B__typename%7D`, { headers: { origin } });

  it('with several configured origins (where @whatwg-node answers unknown ones with "null")', async () => {
    const server = await startServer(true);
    try {
      for (const origin of ['null', 'https://evil.example.com']) {
        for (const response of [await preflight(server.h.url, origin), await simple(server.h.url, origin)])
          expect(response.headers.get('access-control-allow-origin')).toBeNull();
      }
      const allowed = await preflight(server.h.url, 'https://admin.example.com');
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
    } finally {
      await server.h.close();
    }
  });

  it('in the zero-config localhost mode', async () => {
    const h = await startHarness({
      emulator: { seed: 'empty' },
      config: { corsOrigins: ['https://app.example.com'] },
    });
    // The development entry's zero-config start: loopback origins allowed too. Rebuilt on the same emulator.
    const { createApp } = await import('../src/app.js');
    const app = createApp({ config: h.config, logger: createLogger('silent'), allowLocalhostOrigins: true });
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      for (const response of [await preflight(url, 'null'), await simple(url, 'null')])
        expect(response.headers.get('access-control-allow-origin')).toBeNull();
      const loopback = await preflight(url, 'http://localhost:5173');
      expect(loopback.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    } finally {
      await app.shutdown({ graceMs: 100 });
      await h.close();
    }
  });
});
