/**
 * The static site the zero-config start serves the Team page with (src/http/static-site.ts): only the built app's
 * own files, GET and HEAD only, index.html at `/` with the head addition; nothing else of the file system.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStaticSite } from '../src/http/static-site.js';

describe('static site', () => {
  let folder: string;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'static-site-'));
    await mkdir(join(folder, 'dist/assets'), { recursive: true });
    await writeFile(
      join(folder, 'dist/index.html'),
      '<html><head><title>t</title></head><body></body></html>',
    );
    await writeFile(join(folder, 'dist/assets/app-1234.js'), 'console.log(1)');
    await writeFile(join(folder, 'secret.txt'), 'not part of the app');
    const site = await loadStaticSite({ root: join(folder, 'dist'), head: '<meta name="x" content="y">' });
    server = createServer((request, response) => {
      if (site.serves(request)) return site.serve(request, response);
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(folder, { recursive: true, force: true });
  });

  it('serves index.html at / (with the head addition) and the hashed assets, cached for good', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(await index.text()).toContain('<meta name="x" content="y"></head>');
    const asset = await fetch(`${base}/assets/app-1234.js?v=1`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(await asset.text()).toBe('console.log(1)');
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('serves nothing else: other paths, traversal, other methods', async () => {
    for (const path of [
      '/secret.txt',
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/graphql',
    ]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/`, { method: 'POST', body: 'x' })).status).toBe(404);
  });

  it('refuses to load a folder without index.html (the app is not built)', async () => {
    await expect(loadStaticSite({ root: join(folder, 'dist/assets') })).rejects.toThrow(/no index.html/);
  });
});
