/**
 * Bounded sockets toward Clerk (src/clerk/http-agent.ts): requests to a registered origin go through its bounded agent,
 * everything else as before; a call its caller stops waiting for (the upstream policy's signal) ends its request.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installClerkHttp } from '../src/clerk/http-agent.js';

/** An HTTP server that counts requests and open connections, answering after `answer` decides (or never). */
async function countingServer(answer: (request: IncomingMessage, response: ServerResponse) => void) {
  const sockets = new Set<Socket>();
  let mostSockets = 0;
  let requests = 0;
  const closedWaiters: (() => void)[] = [];
  const server: Server = createServer((request, response) => {
    requests++;
    answer(request, response);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    mostSockets = Math.max(mostSockets, sockets.size);
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) for (const resolve of closedWaiters.splice(0)) resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    get mostSockets() {
      return mostSockets;
    },
    get openSockets() {
      return sockets.size;
    },
    allClosed: () =>
      sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => closedWaiters.push(resolve)),
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('Clerk HTTP agent', () => {
  it('bounds the connections to the Clerk origin only; other fetches are untouched; close() undoes it', async () => {
    const slow = (_: IncomingMessage, response: ServerResponse) => setTimeout(() => response.end('ok'), 50);
    const clerk = await countingServer(slow);
    const other = await countingServer(slow);
    cleanups.push(clerk.close, other.close);
    const http = installClerkHttp({ apiUrl: clerk.url, maxSockets: 2, timeoutMs: 5000 });

    const answers = await Promise.all([
      ...Array.from({ length: 10 }, () => fetch(`${clerk.url}/v1/x`).then((r) => r.text())),
      ...Array.from({ length: 10 }, () => fetch(`${other.url}/y`).then((r) => r.text())),
    ]);
    expect(answers.every((answer) => answer === 'ok')).toBe(true);
    expect(clerk.mostSockets).toBeLessThanOrEqual(2);
    expect(other.mostSockets).toBe(10);

    await http.close();
    const again = await countingServer(slow);
    cleanups.push(again.close);
    // The same origin after close(): back to the dispatcher from before (here: unbounded).
    const second = installClerkHttp({ apiUrl: again.url, maxSockets: 1, timeoutMs: 5000 });
    await second.close();
    await Promise.all(Array.from({ length: 5 }, () => fetch(`${again.url}/z`).then((r) => r.text())));
    expect(again.mostSockets).toBe(5);
  });

  it('a hanging Clerk holds a socket only until the socket timeout', async () => {
    const clerk = await countingServer(() => {}); // never answers
    cleanups.push(clerk.close);
    const http = installClerkHttp({ apiUrl: clerk.url, maxSockets: 3, timeoutMs: 200 });
    cleanups.push(http.close);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => fetch(`${clerk.url}/v1/hang`)));
    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    expect(clerk.mostSockets).toBeLessThanOrEqual(3);
    await clerk.allClosed();
  });

  it('a call its caller stops waiting for ends its request: the socket closes, queued ones are never sent', async () => {
    const clerk = await countingServer(() => {}); // never answers
    cleanups.push(clerk.close);
    // The upstream policy's currentCallSignal, in miniature: one signal per call, found through the async context.
    const callSignal = new AsyncLocalStorage<AbortSignal>();
    // Socket timeouts far away: only the signal can end these requests soon.
    const http = installClerkHttp({
      apiUrl: clerk.url,
      maxSockets: 2,
      timeoutMs: 60_000,
      currentSignal: () => callSignal.getStore(),
    });
    cleanups.push(http.close);
    // Six calls on two sockets: two are sent, four wait inside the agent. Once Clerk holds the two, every caller
    // stops waiting.
    const abandons = Array.from({ length: 6 }, () => new AbortController());
    const requests = abandons.map((abandon) =>
      callSignal.run(abandon.signal, () => fetch(`${clerk.url}/v1/organizations/org_1/memberships`)),
    );
    await vi.waitFor(() => expect(clerk.requests).toBe(2), { timeout: 10_000, interval: 5 });
    for (const abandon of abandons) abandon.abort(new Error('nobody waits for this call any more'));
    // All six end with the signal's reason, the four still waiting for a socket included. Clerk never answers and
    // the socket timeout is a minute away (beyond this test's timeout): only the signal can end them.
    for (const result of await Promise.allSettled(requests)) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason as Error;
      expect(String(reason.cause ?? reason)).toMatch(/nobody waits/);
    }
    await clerk.allClosed();
    // The four that waited for a socket were never sent.
    expect(clerk.requests).toBe(2);
    expect(clerk.mostSockets).toBeLessThanOrEqual(2);
  });
});
