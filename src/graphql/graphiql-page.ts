/**
 * Serves GraphiQL compressed and revalidatable. The page Yoga renders inlines the whole GraphiQL bundle (~9 MB,
 * so that it works offline); sent as is, every open of the page moved 9 MB. It is rendered once, compressed once
 * (brotli ~1.9 MB, gzip ~2.4 MB), and answered with an ETag, so a reload costs a 304.
 *
 * Rendered lazily on the first request: servers that nobody opens GraphiQL on (tests, production with it off) never
 * pay the ~0.5 s of compression.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

interface Encoded {
  etag: string;
  identity: Buffer;
  br: Buffer;
  gzip: Buffer;
}

export interface GraphiQLPage {
  /** True for the requests Yoga would answer with GraphiQL: GET with an Accept that includes text/html. */
  wants(request: IncomingMessage): boolean;
  serve(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** `render` produces the page's HTML (Yoga's own rendering, with our GraphiQL options). */
export function createGraphiQLPage(render: () => Promise<string>): GraphiQLPage {
  let encoded: Promise<Encoded> | undefined;
  const encode = async (): Promise<Encoded> => {
    const identity = Buffer.from(await render(), 'utf8');
    const [br, gz] = await Promise.all([
      // Quality 5: within 5% of the best ratio, in a tenth of the time of quality 11.
      brotli(identity, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
      gzipAsync(identity),
    ]);
    const etag = `"${createHash('sha256').update(identity).digest('base64url').slice(0, 27)}"`;
    return { etag, identity, br, gzip: gz };
  };

  return {
    wants: (request) => request.method === 'GET' && (request.headers.accept ?? '').includes('text/html'),
    async serve(request, response) {
      encoded ??= encode().catch((error: unknown) => {
        encoded = undefined; // try again on the next request
        throw error;
      });
      const page = await encoded;
      const headers: Record<string, string> = {
        'content-type': 'text/html; charset=utf-8',
        etag: page.etag,
        // Cache, but ask each time: the page carries settings (the prefilled token) that change on a restart.
        'cache-control': 'no-cache',
        vary: 'Accept, Accept-Encoding',
      };
      if (request.headers['if-none-match'] === page.etag) {
        response.writeHead(304, headers);
        response.end();
        return;
      }
      const accepted = String(request.headers['accept-encoding'] ?? '');
      const [encoding, body] = /\bbr\b/.test(accepted)
        ? (['br', page.br] as const)
        : /\bgzip\b/.test(accepted)
          ? (['gzip', page.gzip] as const)
          : ([undefined, page.identity] as const);
      if (encoding) headers['content-encoding'] = encoding;
      headers['content-length'] = String(body.length);
      response.writeHead(200, headers);
      response.end(body);
    },
  };
}
