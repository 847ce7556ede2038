/**
 * `GET /` on the public port: a visitor (or a load balancer's default check) gets a short JSON pointer to the API
 * instead of an empty 404; the development entry may answer it with a page of its own (`rootPage`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, metricOf, startHarness } from './helpers/harness.js';

describe('GET /', () => {
  let h: Harness;
  let withPage: Harness;
  beforeAll(async () => {
    h = await startHarness();
    withPage = await startHarness({
      rootPage: (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<!doctype html><title>Team</title>');
      },
    });
  }, 30_000);
  afterAll(async () => {
    await h?.close();
    await withPage?.close();
  });

  it('answers a JSON pointer to /graphql and the probes, and the pointer leads to the API', async () => {
    const response = await fetch(`${h.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const pointer = (await response.json()) as Record<string, string>;
    expect(pointer).toEqual({ graphql: '/graphql', health: '/healthz', readiness: '/readyz' });
    const api = await fetch(`${h.url}${pointer.graphql}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await api.json()).toEqual({ data: { __typename: 'Query' } });
    const health = await fetch(`${h.url}${pointer.health}`);
    expect(health.status).toBe(200);
    await health.arrayBuffer();
    // A query string changes nothing; counted under its own route.
    expect((await fetch(`${h.url}/?x=1`)).status).toBe(200);
    expect(
      await metricOf(h.adminUrl, 'http_responses_total', { route: '/', status: '200' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('HEAD answers without a body; other methods are 405 with Allow', async () => {
    const head = await fetch(`${h.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const refused = await fetch(`${h.url}/`, { method, body: method === 'DELETE' ? undefined : '{}' });
      expect(refused.status, method).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET, HEAD');
      await refused.arrayBuffer();
    }
  });

  it('serves the rootPage the app was given in its place (the hook for the example Team page)', async () => {
    const response = await fetch(`${withPage.url}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('<!doctype html><title>Team</title>');
    // Everything else is unchanged.
    expect((await fetch(`${withPage.url}/healthz`)).status).toBe(200);
  });
});
