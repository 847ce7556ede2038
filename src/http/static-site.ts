/**
 * Serves a built web app (a Vite `dist/`: index.html and its hashed assets) on the public listener, for the
 * development entry's Team page (examples/team-page). The files are read once, when the server starts: a small app,
 * and only the names found there are ever served, so no request path reaches the file system.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';

export interface StaticSite {
  /** True for a GET or HEAD of one of the app's files (`/` is its index.html). */
  serves(request: IncomingMessage): boolean;
  serve(request: IncomingMessage, response: ServerResponse): void;
}

export interface StaticSiteOptions {
  /** The built app's folder (index.html, assets/). Required. */
  root: string;
  /** Inserted into index.html before `</head>` (e.g. a `<meta>` the app reads its session from). @default '' */
  head?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

interface File {
  body: Buffer;
  headers: Record<string, string>;
}

/** Reads the app; throws when `root` has no index.html (the app is not built). */
export async function loadStaticSite({ root, head = '' }: StaticSiteOptions): Promise<StaticSite> {
  const files = new Map<string, File>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const urlPath = `/${relative(root, path).split(sep).join('/')}`;
    let body = await readFile(path);
    if (urlPath === '/index.html')
      body = Buffer.from(body.toString('utf8').replace('</head>', `${head}</head>`));
    files.set(urlPath, {
      body,
      headers: {
        'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
        'content-length': String(body.length),
        // Vite names assets by their content hash: they never change. index.html is asked for each time.
        'cache-control': urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
      },
    });
  }
  const index = files.get('/index.html');
  if (!index) throw new Error(`${root} has no index.html: the app is not built`);
  files.set('/', index);

  const fileOf = (request: IncomingMessage) =>
    request.method === 'GET' || request.method === 'HEAD'
      ? files.get((request.url ?? '/').split('?', 1)[0] ?? '/')
      : undefined;
  return {
    serves: (request) => fileOf(request) !== undefined,
    serve(request, response) {
      const file = fileOf(request);
      if (!file) throw new Error('serve() called for a request serves() refused');
      response.writeHead(200, file.headers);
      response.end(request.method === 'HEAD' ? undefined : file.body);
    },
  };
}
