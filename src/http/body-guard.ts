/**
 * Request bodies before anyone has checked who sent them: each has a short idle timeout, and together they may hold
 * at most a fixed number of bytes (a global budget). Without both, anyone could open a thousand connections, send
 * most of a body on each and stall, and the server would hold the bytes for minutes.
 *
 * A body is admitted before its first byte is read. It reserves what it may grow to (its Content-Length, which
 * Node's parser enforces as a hard bound, or the route's limit without one) and gives the reservation back once it
 * has been received in full, or its request or response is over. Past the budget a body is refused with 503 and
 * Retry-After (the idle timeout: by then stalled bodies have been dropped), never buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface BodyGuardOptions {
  /** Silence (no byte received) after which an unfinished body is dropped with 408. */
  idleTimeoutMs: number;
  /** Bytes that unfinished bodies may reserve in all. */
  budgetBytes: number;
}

export interface BodyGuard {
  /**
   * Admits the request's body (true), or answers the request itself and returns false: 503 when the budget cannot
   * hold `maxBytes` more (or the declared Content-Length, when smaller). A request without a body is always admitted.
   */
  admit(request: IncomingMessage, response: ServerResponse, maxBytes: number): boolean;
  /** Bytes reserved by bodies not yet received in full. */
  reserved(): number;
}

/** A refusal in the API's error shape: every error a client sees carries `extensions.code`. */
export function refuse(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  if (response.headersSent) return;
  response.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/** True when the request carries a body: a positive Content-Length, or chunked. */
export function hasBody(request: IncomingMessage): boolean {
  const declared = request.headers['content-length'];
  if (declared !== undefined) return Number(declared) > 0;
  return request.headers['transfer-encoding'] !== undefined;
}

export function createBodyGuard({ idleTimeoutMs, budgetBytes }: BodyGuardOptions): BodyGuard {
  let reserved = 0;
  const retryAfter = String(Math.max(1, Math.ceil(idleTimeoutMs / 1000)));

  function admit(request: IncomingMessage, response: ServerResponse, maxBytes: number): boolean {
    if (!hasBody(request)) return true;
    const declared = Number(request.headers['content-length']);
    const size = Number.isFinite(declared) && declared > 0 ? Math.min(declared, maxBytes) : maxBytes;
    if (reserved + size > budgetBytes) {
      refuse(
        response,
        503,
        'SERVER_BUSY',
        'Too many request bodies are being received at once. Retry later.',
        { 'retry-after': retryAfter, connection: 'close' },
      );
      return false;
    }
    reserved += size;
    let received = false;
    const release = () => {
      if (received) return;
      received = true;
      reserved -= size;
    };
    // The socket's own inactivity timer: Node refreshes it on every byte it parses, so it measures silence without
    // this module reading (or holding) a byte of the body.
    request.setTimeout(idleTimeoutMs, () => {
      release();
      refuse(response, 408, 'REQUEST_TIMEOUT', 'The request body stalled.', { connection: 'close' });
      request.socket.destroySoon();
      // A client that does not read our answer either: the socket goes when the answer is out or cannot be.
      response.once('finish', () => request.socket.destroy());
      if (response.writableFinished) request.socket.destroy();
    });
    request.once('end', () => {
      release();
      // Received in full: what the request now waits for (Clerk, a live stream) is not the client's silence. Not
      // once the answer is out: Node has set the keep-alive timer on the socket by then.
      if (!response.writableFinished) request.socket.setTimeout(0);
    });
    request.once('close', release);
    response.once('close', release);
    response.once('finish', release);
    return true;
  }

  return { admit, reserved: () => reserved };
}
