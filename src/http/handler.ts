/**
 * The request listeners. The public one routes /graphql, /webhooks/clerk, /healthz, /readyz and `GET /`; the admin one
 * (its own port, kept from the internet) /metrics, /healthz and /readyz. Both do for every request what does not
 * depend on its route. It gives each one an ID (the caller's `X-Request-ID` when well-formed, else a
 * new one, echoed in the response), counts each response by route and status, writes the access log at
 * `LOG_LEVEL=debug`, refuses a GraphQL body from its Content-Length before a byte of it is read, and dates the
 * request's one deadline. What answers GraphQL (the fast path, Yoga) is handed in as functions: this module only
 * chooses between them.
 *
 * Traces: /graphql and /webhooks/clerk requests on the public listener each get a server span (`POST /graphql`),
 * continuing the caller's W3C `traceparent`, current while the request is handled, so the fast path's, GraphQL's,
 * the cache's and Clerk's spans and events hang under it. Probes and the admin listener get none (they would drown
 * the traces in kubelet's calls). A no-op without an OpenTelemetry SDK (src/observability/tracing.ts).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { RequestArrival } from '../fast-path/fast-path.js';
import type { GraphiQLPage } from '../graphql/graphiql-page.js';
import { MAX_REQUEST_BODY_BYTES } from '../graphql/yoga.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { WEBHOOK_PATH, type WebhookRoute } from '../webhooks/route.js';
import { type BodyGuard, refuse } from './body-guard.js';
import type { StaticSite } from './static-site.js';

/** Answers a GraphQL request that has been given its ID and deadline. */
export type GraphQLHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  arrival: RequestArrival,
) => void;

/** Answers `GET /` in place of the JSON pointer. */
export type RootPage = (request: IncomingMessage, response: ServerResponse) => void;

/** What `GET /` says by default: this is an API, and where it is. */
export const ROOT_POINTER = { graphql: '/graphql', health: '/healthz', readiness: '/readyz' };

/** Why this process is not ready yet: the body of /readyz's 503. */
export interface NotReady {
  status: string;
  reason?: string;
}

export interface HttpHandlerOptions {
  /** Answers every GraphQL request the fast path does not: Yoga. */
  graphql: GraphQLHandler;
  /** Tried first for /graphql (it hands what it cannot replay to Yoga itself). @default none: Yoga answers all */
  fastPath?: GraphQLHandler;
  /** Served to browsers asking for HTML (GET with `Accept: text/html`). @default none: Yoga answers them */
  graphiqlPage?: GraphiQLPage;
  /**
   * Answers `GET /` (and HEAD): where the development entry may serve a page of its own (the example Team page).
   * @default a short JSON pointer to /graphql and the probes, so a visitor is not left with an empty 404
   */
  rootPage?: RootPage;
  /** A web app's files, served before GraphiQL (the development entry's Team page at `/`). @default none */
  site?: StaticSite;
  webhooks: Pick<WebhookRoute, 'handle'>;
  /** Holds the bodies not yet received: their idle timeout and shared budget. */
  bodies: Pick<BodyGuard, 'admit'>;
  /** How long a request may wait in all, from its arrival (`REQUEST_DEADLINE_MS`). */
  requestDeadlineMs: number;
  /**
   * Asked by /readyz while requests are accepted: why this process is not ready yet, or undefined when it is.
   * @default always ready
   */
  notReady?: () => NotReady | undefined;
  metrics: Pick<Metrics, 'registry' | 'httpResponse'>;
  logger: Logger;
}

export interface HttpHandler {
  /** The public listener: the fast path first, where there is one. /metrics is not served here (404). */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** The same handling with the fast path off: every /graphql request through Yoga. */
  withoutFastPath(request: IncomingMessage, response: ServerResponse): void;
  /** The admin listener: /metrics, /healthz and /readyz; anything else 404. */
  admin(request: IncomingMessage, response: ServerResponse): void;
  /**
   * From now on /readyz answers 503 on both listeners, while every other request is still served: load balancers
   * stop sending before the listener closes.
   */
  stopReadiness(): void;
  /**
   * From now on every request to the public listener but /healthz is answered 503 with `Connection: close`
   * (/readyz included). The admin listener keeps serving /metrics until it closes.
   */
  stopAccepting(): void;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

const tracer = trace.getTracer('team-graphql/http');

/**
 * Runs `handle` inside the request's server span (continuing an incoming `traceparent`), ended when the response
 * is finished or the connection closed. Attributes: method, route, status and request ID; never the query string
 * (GET variables can carry emails) nor a header.
 */
function traced(
  request: IncomingMessage,
  response: ServerResponse,
  route: string,
  requestId: string,
  handle: () => void,
): void {
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const span = tracer.startSpan(
    `${request.method} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method ?? '',
        'http.route': route,
        'url.path': route,
        'team.request_id': requestId,
      },
    },
    parent,
  );
  if (span.isRecording()) {
    response.once('close', () => {
      span.setAttribute('http.response.status_code', response.statusCode);
      if (response.statusCode >= 500 || !response.writableFinished)
        span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
  }
  context.with(trace.setSpan(parent, span), handle);
}

/** The routes counted under their own name; every other path is one bucket, not one series each. */
const ROUTES = new Set(['/', '/graphql', WEBHOOK_PATH, '/healthz', '/readyz', '/metrics']);

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  response.end(JSON.stringify(body));
}

export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const { graphql, fastPath, graphiqlPage, rootPage, webhooks, bodies, metrics, logger } = options;
  let accepting = true;
  let ready = true;
  /** One line per request at LOG_LEVEL=debug; off otherwise, so cache hits do not pay for it. */
  const accessLog = logger.enabled('debug');

  /** Gives the request its ID, counts and logs its response; returns its path. */
  const begin = (request: IncomingMessage, response: ServerResponse): { path: string; requestId: string } => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const given = request.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    response.setHeader('x-request-id', requestId);
    const startedAt = accessLog ? performance.now() : 0;
    response.on('finish', () => {
      metrics.httpResponse(ROUTES.has(path) ? path : 'other', response.statusCode);
      if (accessLog) {
        // Path only: query strings can carry GraphQL variables (emails) on GET requests.
        logger.debug('request', {
          requestId,
          method: request.method,
          path,
          status: response.statusCode,
          durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
        });
      }
    });
    return { path, requestId };
  };

  const probe = (path: '/healthz' | '/readyz', response: ServerResponse) => {
    if (path === '/healthz') return json(response, 200, { status: 'ok' });
    if (!ready) return json(response, 503, { status: 'shutting down' });
    const notReady = options.notReady?.();
    if (notReady) return json(response, 503, notReady);
    return json(response, 200, { status: 'ready' });
  };

  const admin = (request: IncomingMessage, response: ServerResponse) => {
    const { path, requestId } = begin(request, response);
    switch (path) {
      case '/healthz':
      case '/readyz':
        return probe(path, response);
      case '/metrics':
        return void metrics.registry.metrics().then(
          (text) => {
            response.writeHead(200, { 'content-type': metrics.registry.contentType });
            response.end(text);
          },
          (error: unknown) => {
            logger.error('metrics collection failed', { requestId, error });
            json(response, 500, { error: 'Metrics collection failed.' });
          },
        );
      default:
        return json(response, 404, { error: 'Not found.' });
    }
  };

  const handle = (request: IncomingMessage, response: ServerResponse, fast: boolean) => {
    const { path, requestId } = begin(request, response);
    if (!accepting && path !== '/healthz') {
      return json(response, 503, { error: 'Shutting down.' }, { connection: 'close' });
    }
    switch (path) {
      case WEBHOOK_PATH:
        return traced(request, response, WEBHOOK_PATH, requestId, () => webhooks.handle(request, response));
      case '/healthz':
      case '/readyz':
        return probe(path, response);
      case '/metrics':
        // The admin listener's only: metrics name organizations' load and this process's internals.
        return json(response, 404, { error: 'Not found: /metrics is served on the admin port.' });
      case '/':
        if (request.method === 'GET' || request.method === 'HEAD') {
          // The development entry's web app first (its index page), then the hook, then the pointer.
          if (options.site?.serves(request)) return options.site.serve(request, response);
          return rootPage ? rootPage(request, response) : json(response, 200, ROOT_POINTER);
        }
        return json(response, 405, { error: 'Method not allowed: GET / only.' }, { allow: 'GET, HEAD' });
      default: {
        if (options.site?.serves(request)) return options.site.serve(request, response);
        if (graphiqlPage?.wants(request)) {
          return void graphiqlPage.serve(request, response).catch((error: unknown) => {
            logger.error('GraphiQL page failed', { requestId, error });
            if (!response.headersSent) json(response, 500, { error: 'GraphiQL is unavailable.' });
          });
        }
        const refusal = request.method === 'POST' ? bodySizeRefusal(request) : undefined;
        if (refusal) return refuse(response, refusal.status, refusal.code, refusal.message, refusal.headers);
        if (!bodies.admit(request, response, MAX_REQUEST_BODY_BYTES)) return;
        // One deadline per request, dated at its arrival: both paths and every wait of the request share it.
        const requestedAt = Date.now();
        const arrival = { requestId, requestedAt, deadline: requestedAt + options.requestDeadlineMs };
        const route = path === '/graphql' ? '/graphql' : 'other';
        return traced(request, response, route, requestId, () => {
          if (fast && fastPath && path === '/graphql') fastPath(request, response, arrival);
          else graphql(request, response, arrival);
        });
      }
    }
  };

  return {
    handle: (request, response) => handle(request, response, true),
    withoutFastPath: (request, response) => handle(request, response, false),
    admin,
    stopReadiness() {
      ready = false;
    },
    stopAccepting() {
      ready = false;
      accepting = false;
    },
  };
}

/**
 * The /graphql body limit, decided from Content-Length alone: Node's parser never delivers more body bytes than
 * the header declares, so the header is a hard bound. GraphQL clients always send it; a chunked body without it is
 * refused rather than read unbounded.
 */
function bodySizeRefusal(
  request: IncomingMessage,
): { status: number; code: string; message: string; headers?: Record<string, string> } | undefined {
  const declared = request.headers['content-length'];
  if (declared === undefined) {
    return {
      status: 411,
      code: 'BAD_REQUEST',
      message: 'POST /graphql needs a Content-Length header.',
      headers: { connection: 'close' },
    };
  }
  if (Number(declared) > MAX_REQUEST_BODY_BYTES) {
    return {
      status: 413,
      code: 'REQUEST_ENTITY_TOO_LARGE',
      message: `Request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes.`,
      headers: { connection: 'close' },
    };
  }
  return undefined;
}
