/**
 * What a developer meets in the zero-config start besides the API: GraphiQL's 9 MB page compressed and
 * revalidatable, and CORS open to a frontend dev server on another loopback port (only when the development entry
 * asks for it). Real server on an ephemeral port, real HTTP.
 */
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../src/app.js';
import { createLogger } from '../src/observability/logger.js';
import { type Harness, startHarness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** Raw GET with node's fetch-free http, so that nothing decodes the body behind our back. */
async function get(url: string, headers: Record<string, string>) {
  const { request } = await import('node:http');
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }>((resolve, reject) => {
    request(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('GraphiQL page', () => {
  it('is sent compressed (brotli, else gzip), with an ETag that turns a reload into a 304', async () => {
    const plain = await get(`${h.url}/graphql`, { accept: 'text/html' });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toMatch(/<title>[^<]*GraphiQL/);

    const br = await get(`${h.url}/graphql`, { accept: 'text/html', 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.body.length).toBeLessThan(plain.body.length / 3);
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);

    const gz = await get(`${h.url}/graphql`, { accept: 'text/html', 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);

    const etag = String(br.headers.etag);
    expect(etag).toMatch(/^".+"$/);
    expect(br.headers['cache-control']).toBe('no-cache');
    expect(String(br.headers.vary)).toMatch(/Accept-Encoding/);
    const again = await get(`${h.url}/graphql`, { accept: 'text/html', 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('leaves GraphQL over GET to Yoga', async () => {
    const answer = await get(`${h.url}/graphql?query=${encodeURIComponent('{__typename}')}`, {
      accept: 'application/json',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('CORS', () => {
  let devApp: App;
  let devUrl: string;
  beforeAll(async () => {
    // The same server as the development entry builds it: loopback origins allowed, nothing configured.
    devApp = createApp({
      config: { ...h.config, corsOrigins: [] },
      logger: createLogger('silent'),
      allowLocalhostOrigins: true,
    });
    await new Promise<void>((resolve) => devApp.server.listen(0, '127.0.0.1', resolve));
    devUrl = `http://127.0.0.1:${(devApp.server.address() as AddressInfo).port}`;
  });
  afterAll(() => devApp.shutdown({ graceMs: 100 }));

  const preflight = (url: string, origin: string) =>
    fetch(`${url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('the zero-config start lets a frontend dev server on another loopback port call the API', async () => {
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:5173', 'http://[::1]:8080']) {
      const answer = await preflight(devUrl, origin);
      expect(answer.status, origin).toBe(204);
      expect(answer.headers.get('access-control-allow-origin'), origin).toBe(origin);
      expect(answer.headers.get('access-control-allow-headers')).toMatch(/Authorization/i);
      expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('never another origin, not even there', async () => {
    for (const origin of [
      'https://evil.example',
      'http://localhost.evil.example',
      'http://127.0.0.1.nip.io',
    ]) {
      const answer = await preflight(devUrl, origin);
      expect(answer.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('a server not started by the development entry allows no loopback origin', async () => {
    const answer = await preflight(h.url, 'http://localhost:3000');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });
});
