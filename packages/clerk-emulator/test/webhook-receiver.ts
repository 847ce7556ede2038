import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST the receiver got: the raw body (what a signature covers) and lower-cased headers. */
export interface ReceivedWebhook {
  /** 0-based arrival order. */
  index: number;
  path: string;
  body: string;
  headers: Record<string, string>;
  /** The status the receiver answered with. */
  status: number;
  receivedAt: number;
}

export type Responder = (hook: Omit<ReceivedWebhook, 'status'>) => number;

export interface WebhookReceiver {
  /** `http://127.0.0.1:PORT/webhooks`. */
  readonly url: string;
  /** Everything received so far, in arrival order. */
  readonly received: readonly ReceivedWebhook[];
  /**
   * Resolves with the first received webhook (past or future) that matches and that no earlier `next` call
   * returned. Rejects after `timeoutMs` so a missing delivery fails the test instead of hanging it.
   */
  next(predicate?: (hook: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  /** Sets the HTTP status answered to each POST (default 200). */
  respondWith(responder: Responder): void;
  /** Forgets what was received and which webhooks `next` has returned. */
  clear(): void;
  close(): Promise<void>;
}

interface Waiter {
  predicate: (hook: ReceivedWebhook) => boolean;
  resolve: (hook: ReceivedWebhook) => void;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const consumed = new Set<ReceivedWebhook>();
  let waiters: Waiter[] = [];
  let responder: Responder = () => 200;

  const offer = (hook: ReceivedWebhook) => {
    const waiter = waiters.find((w) => w.predicate(hook));
    if (!waiter) return;
    waiters = waiters.filter((w) => w !== waiter);
    consumed.add(hook);
    waiter.resolve(hook);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
      }
      const base = {
        index: received.length,
        path: req.url ?? '/',
        body: Buffer.concat(chunks).toString('utf8'),
        headers,
        receivedAt: Date.now(),
      };
      const status = req.method === 'POST' ? responder(base) : 405;
      const hook: ReceivedWebhook = { ...base, status };
      if (req.method === 'POST') received.push(hook);
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'fail');
      if (req.method === 'POST') offer(hook);
    });
  };

  const server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    next(predicate = () => true, timeoutMs = 10_000) {
      const existing = received.find((hook) => !consumed.has(hook) && predicate(hook));
      if (existing) {
        consumed.add(existing);
        return Promise.resolve(existing);
      }
      return new Promise<ReceivedWebhook>((resolve, reject) => {
        const waiter: Waiter = {
          predicate,
          resolve: (hook) => {
            clearTimeout(timer);
            resolve(hook);
          },
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          reject(new Error(`webhook receiver: no matching webhook within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    respondWith(next) {
      responder = next;
    },
    clear() {
      received.length = 0;
      consumed.clear();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
