/**
 * Requests Node's HTTP parser refuses before any handler sees them (headers or URL over the size limit, malformed
 * request lines, a request that took longer than `requestTimeout` to arrive): answered like every other refusal,
 * a JSON body whose error carries `extensions.code`, instead of Node's bare status line. Nothing is logged: these
 * come from clients, not from the server.
 */
import { type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

const answers: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: 'The request headers (URL included) are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive.' },
};

export function answerClientErrors(server: Server) {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // A connection reset, or a request already being answered: nothing to say to anyone.
    if (
      error.code === 'ECONNRESET' ||
      !socket.writable ||
      (socket as { _httpMessage?: unknown })._httpMessage
    ) {
      socket.destroy();
      return;
    }
    const { status, message } = answers[error.code ?? ''] ?? {
      status: 400,
      message: 'The request is not valid HTTP.',
    };
    const body = JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}
