/** A public GraphQL endpoint meets abusive requests: each is refused with a clear code, the process unharmed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BODY_BYTES } from '../src/graphql/yoga.js';
import { type Harness, startHarness } from './helpers/harness.js';

let h: Harness;
let token: string;
let organizationId: string;
beforeAll(async () => {
  h = await startHarness();
  const acme = h.emulator.demo?.acme;
  organizationId = acme?.organizationId as string;
  token = h.emulator.mintToken({ userId: acme?.adminUserIds[0] as string, orgId: organizationId });
});
afterAll(() => h.close());

async function expectServerHealthy() {
  const result = await h.query('{ viewer { userId } }', { token });
  expect(result.data).toBeTruthy();
}

describe('query limits (graphql-armor)', () => {
  it('refuses queries nested deeper than the limit', async () => {
    // Our own types nest only four deep; introspection types nest without end through ofType.
    const deep = `{ __schema { types { fields { type ${'{ ofType '.repeat(40)}{ name }${' }'.repeat(40)} } } } }`;
    const result = await h.query(deep, { token });
    expect(result.errors?.every((error) => error.extensions?.code === 'QUERY_TOO_COMPLEX')).toBe(true);
    expect(result.errors?.some((error) => /depth limit/i.test(error.message))).toBe(true);
    expect(result.data ?? null).toBeNull();
    await expectServerHealthy();
  });

  it('refuses too many aliases (one request fanning out into many reads)', async () => {
    const aliases = Array.from(
      { length: 50 },
      (_, i) => `a${i}: organization(id: "${organizationId}") { members(limit: 500) { totalCount } }`,
    ).join('\n');
    const result = await h.query(`{ ${aliases} }`, { token });
    expect(result.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(result.errors?.[0]?.message).toMatch(/alias/i);
    await expectServerHealthy();
  });

  it('refuses a huge query by its token count before validating it', async () => {
    const huge = `{ viewer { ${Array.from({ length: 3000 }, () => 'userId').join(' ')} } }`;
    const result = await h.query(huge, { token });
    expect(result.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(result.errors?.[0]?.message).toMatch(/token/i);
    await expectServerHealthy();
  });

  it('refuses a request body over the limit with 413', async () => {
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ viewer { userId } } # ${'x'.repeat(MAX_REQUEST_BODY_BYTES)}` }),
    });
    expect(response.status).toBe(413);
    await expectServerHealthy();
  });

  it('refuses a chunked body without Content-Length (411) rather than read it unbounded', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ query: '{ __typename }' }));
    });
    expect(status).toBe(411);
    await expectServerHealthy();
  });

  it('refuses batched requests (an array of operations)', async () => {
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: '{ viewer { userId } }' }, { query: '{ viewer { userId } }' }]),
    });
    expect(response.status).toBe(400);
  });

  it('accepts the real team-page query and GraphiQL-sized introspection', async () => {
    const page = await h.query(
      `{ organization(id: "${organizationId}") { members(limit: 20, includePending: true) { fromCache totalCount
          members { userId firstName lastName email imageUrl role createdAt } pendingInvitations { id email role createdAt } } } }`,
      { token },
    );
    expect(page.errors).toBeUndefined();
    const { getIntrospectionQuery } = await import('graphql');
    const introspection = await h.query(getIntrospectionQuery(), {});
    expect(introspection.errors, JSON.stringify(introspection.errors)).toBeUndefined();
  });
});

describe('production settings', () => {
  let production: Harness;
  beforeAll(async () => {
    production = await startHarness({
      emulator: { seed: 'empty' },
      config: {
        production: true,
        graphiqlEnabled: false,
        introspectionEnabled: false,
        corsOrigins: ['https://app.example.com'],
      },
    });
  });
  afterAll(() => production.close());

  it('refuses introspection', async () => {
    const result = await production.query('{ __schema { queryType { name } } }');
    expect(result.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('does not suggest field names', async () => {
    const result = await production.query('{ viewe { userId } }');
    expect(result.errors?.[0]?.message).not.toMatch(/did you mean/i);
  });

  it('does not serve GraphiQL', async () => {
    const response = await fetch(`${production.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await response.text()).not.toMatch(/<html/i);
  });

  it('allows only the configured browser origins (CORS)', async () => {
    const preflight = (origin: string) =>
      fetch(`${production.url}/graphql`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await preflight('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-credentials')).not.toBe('true');
    const other = await preflight('https://evil.example.com');
    expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example.com');
    expect(other.headers.get('access-control-allow-origin')).not.toBe('*');
  });
});

describe('development settings', () => {
  it('suggests field names where introspection is on anyway', async () => {
    const result = await h.query('{ viewe { userId } }', { token });
    expect(result.errors?.[0]?.message).toMatch(/did you mean/i);
  });

  it('sends no CORS headers at all when no origin is configured', async () => {
    const response = await fetch(`${h.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
