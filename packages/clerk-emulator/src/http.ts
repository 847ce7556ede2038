/**
 * The node:http server: `/v1` (Clerk's Backend API: auth, faults, rate limit, latency, routing, errors, counters
 * and the request log) and `/__emulator` (the control API, delegated). Never throws out of a handler, and tracks
 * sockets so that `close()` also ends hanging requests and keep-alive connections promptly.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RequestLogEntry } from './contract.js';
import { ClerkApiError, clerkErrors, errorBody } from './errors.js';
import type { Knobs } from './knobs.js';
import { type Body, parseQuery, validateBody } from './params.js';
import { matchRoute, type Route } from './routes.js';
import type { HttpRequestInfo } from './webhooks.js';

const MAX_BODY_BYTES = 1024 * 1024;

/** A truncated JSON body for the 'malformed' fault. */
const MALFORMED_BODY = '{"data":[{"object":"organization_membership","id":"orgmem_2';

export interface RawBody {
  text: string;
  contentType: string;
  tooLarge: boolean;
}

export interface ControlResponse {
  status: number;
  body: unknown;
}

export type ControlHandler = (
  method: string,
  path: string,
  query: URLSearchParams,
  body: RawBody,
  request: HttpRequestInfo,
) => Promise<ControlResponse>;

export interface EmulatorServerOptions {
  routes: Route[];
  knobs: Knobs;
  secretKey: string;
  control: ControlHandler;
}

export interface EmulatorServer {
  server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  // Exactly 'application/json': with a charset the SDK hands back the raw string.
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: ClerkApiError): number {
  sendJson(res, error.status, errorBody(error.errors), error.headers);
  return error.status;
}

function readBody(req: IncomingMessage): Promise<RawBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    const done = () => resolve({ text: Buffer.concat(chunks).toString('utf8'), contentType, tooLarge });
    req.on('end', done);
    req.on('error', done);
    req.on('close', done);
  });
}

/** A JSON array body (bulk routes): each element must be an object; anything else → 400 request_body_invalid. */
export function parseArrayBody(raw: RawBody): Body[] {
  if (raw.tooLarge) throw clerkErrors.malformed('The request body is too large.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.text);
  } catch {
    throw clerkErrors.malformed();
  }
  if (!Array.isArray(parsed)) throw clerkErrors.requestBodyInvalid();
  for (const item of parsed) {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw clerkErrors.requestBodyInvalid();
  }
  return parsed as Body[];
}

/** JSON (or form-encoded) request body → object; empty → {}; anything else → 400 malformed_request. */
export function parseBody(raw: RawBody): { body: Body; fromForm: boolean } {
  if (raw.tooLarge) throw clerkErrors.malformed('The request body is too large.');
  if (raw.text.trim() === '') return { body: {}, fromForm: false };
  if (raw.contentType.includes('application/x-www-form-urlencoded')) {
    const body: Body = {};
    for (const [key, value] of new URLSearchParams(raw.text)) body[key] = value;
    return { body, fromForm: true };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.text);
  } catch {
    throw clerkErrors.malformed();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw clerkErrors.malformed('The request body must be a JSON object.');
  }
  return { body: parsed as Body, fromForm: false };
}

function requestInfo(req: IncomingMessage): HttpRequestInfo {
  const forwarded = req.headers['x-forwarded-for'];
  const ip = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return {
    clientIp: ip || (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
    userAgent: String(req.headers['user-agent'] ?? ''),
  };
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1]?.trim();
}

function decodeParts(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((part, index, all) => !(part === '' && (index === 0 || index === all.length - 1)))
      .map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createEmulatorServer(options: EmulatorServerOptions): EmulatorServer {
  const { routes, knobs, secretKey, control } = options;
  const sockets = new Set<Socket>();
  let closing = false;

  async function handleV1(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const parts = decodeParts(url.pathname);
    const match = parts ? matchRoute(routes, method, parts) : undefined;
    const key = match ? (match.route ? match.route.key : match.key) : `${method} ${url.pathname}`;
    const entry: RequestLogEntry = {
      at: Date.now(),
      method,
      route: key,
      path: url.pathname,
      query: parseQuery(url.searchParams),
      status: 0,
    };
    knobs.record(entry);

    // Decisions are taken on arrival; the response goes out after the latency.
    const fault = knobs.takeFault(key);
    const authorized = bearer(req) === secretKey;
    const retryAfter = !fault && authorized ? knobs.takeRateLimitToken(secretKey) : undefined;
    const raw = await readBody(req);

    if (fault?.kind === 'hang') return; // never answered; close() destroys the socket
    const delay = knobs.delayMs();
    if (delay > 0) await sleep(delay);
    if (res.destroyed || closing) return;

    if (fault) {
      if (fault.kind === 'malformed') {
        sendJson(res, 200, MALFORMED_BODY);
        entry.status = 200;
      } else if (fault.kind === 'rateLimit') {
        entry.status = sendError(res, clerkErrors.tooManyRequests(fault.retryAfterSeconds));
      } else if (fault.kind === 'status503') {
        entry.status = sendError(res, clerkErrors.unavailable());
      } else {
        entry.status = sendError(res, clerkErrors.internal());
      }
      return;
    }
    try {
      if (!authorized) throw clerkErrors.keyInvalid();
      if (retryAfter !== undefined) throw clerkErrors.tooManyRequests(retryAfter);
      if (!match?.route) throw clerkErrors.routeNotFound();
      const route = match.route;
      let body: Body = {};
      let items: Body[] = [];
      if (route.body) {
        const parsed = parseBody(raw);
        body = validateBody(parsed.body, route.body, parsed.fromForm);
      }
      if (route.itemBody) {
        const spec = route.itemBody;
        items = parseArrayBody(raw).map((item) => validateBody(item, spec));
      }
      const result = route.handle({
        params: match.params,
        query: entry.query,
        body,
        items,
        request: requestInfo(req),
      });
      sendJson(res, 200, result);
      entry.status = 200;
    } catch (error) {
      if (error instanceof ClerkApiError) {
        entry.status = sendError(res, error);
      } else {
        console.error('[clerk-emulator] unexpected error in', key, error);
        entry.status = sendError(res, clerkErrors.internal());
      }
    }
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const raw = await readBody(req);
    if (res.destroyed || closing) return;
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const result = await control(method, path, url.searchParams, raw, requestInfo(req));
    sendJson(res, result.status, result.body ?? {});
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://emulator.invalid');
      const path = url.pathname;
      if (path === '/v1' || path.startsWith('/v1/')) await handleV1(req, res, url);
      else if (path === '/__emulator' || path.startsWith('/__emulator/')) await handleControl(req, res, url);
      else {
        await readBody(req);
        sendError(res, clerkErrors.routeNotFound());
      }
    } catch (error) {
      console.error('[clerk-emulator] unexpected error', error);
      try {
        sendError(res, clerkErrors.internal());
      } catch {
        res.destroy();
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      closing = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
    },
  };
}
