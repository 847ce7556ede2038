/**
 * Bodies nobody has authenticated yet (issue 19, item 3): anyone can open connections, send headers and part of a
 * body, and stall. Headerless or badly dated webhooks are refused before their body is read; a stalled body is
 * dropped after the idle timeout; together unfinished bodies reserve at most the budget, and past it new ones are
 * refused (503, Retry-After) until room is back. Signed webhooks still work, whatever the Content-Type's casing.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/logger.js';
import { type Harness, postSignedWebhook, startHarness } from './helpers/harness.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface StalledRequest {
  /** The server's answer, given while the client still holds its body open. */
  answer: Promise<Answer>;
  /** The connection closed (by the server: the client never ends it). */
  closed: Promise<void>;
  /** The client never finished sending: true until `abandon()`. */
  stillSending(): boolean;
  /** The client gives up (closes the connection). */
  abandon(): void;
}

/** Sends the headers and `sent` bytes of a `declared`-byte body, then stalls: the attack of issue 19, item 3. */
function stalledRequest(
  url: string,
  path: string,
  headers: Record<string, string>,
  declared: number,
  sent: number,
): StalledRequest {
  const request = httpRequest(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(declared), ...headers },
    agent: false,
  });
  let abandoned = false;
  const answer = new Promise<Answer>((resolve, reject) => {
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
      response.on('error', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    request.on('error', reject);
  });
  answer.catch(() => {});
  const closed = new Promise<void>((resolve) => {
    request.on('socket', (socket) => socket.once('close', () => resolve()));
  });
  request.flushHeaders();
  request.write(Buffer.alloc(sent, 0x20));
  return {
    answer,
    closed,
    stillSending: () => !abandoned && !request.writableEnded,
    abandon: () => {
      abandoned = true;
      request.destroy();
    },
  };
}

/** Svix headers anyone can make up: an ID, the current time, a signature of nothing. */
const madeUpSvixHeaders = (date = new Date()) => ({
  'svix-id': `msg_${randomBytes(8).toString('hex')}`,
  'svix-timestamp': String(Math.floor(date.getTime() / 1000)),
  'svix-signature': `v1,${randomBytes(32).toString('base64')}`,
});

const ignoredEvent = JSON.stringify({ object: 'event', type: 'spaceship.launched', data: { id: 'org_x' } });

let h: Harness;
const logLines: string[] = [];
beforeAll(async () => {
  h = await startHarness({
    emulator: { seed: 'empty' },
    // Short enough that a test awaits it; the budget as small as it may be (1 MiB).
    config: { requestBodyIdleTimeoutMs: 300, requestBodyBudgetMb: 1 },
    logger: createLogger('debug', (line) => logLines.push(line)),
  });
});
afterAll(() => h.close());
afterEach(() => {
  // Whatever a client sends: at most debug and info lines.
  const loud = logLines.filter((line) => /"level":"(warn|error)"/.test(line));
  logLines.length = 0;
  expect(loud).toEqual([]);
});

describe('webhooks are refused before their body is read', () => {
  it.each([
    ['no Svix headers', {}],
    ['no signature', { ...madeUpSvixHeaders(), 'svix-signature': '' }],
    ['a timestamp 10 minutes old', madeUpSvixHeaders(new Date(Date.now() - 10 * 60_000))],
    ['a timestamp 10 minutes ahead', madeUpSvixHeaders(new Date(Date.now() + 10 * 60_000))],
    ['a timestamp that is not a number', { ...madeUpSvixHeaders(), 'svix-timestamp': 'soon' }],
  ])('%s: 400 while the client still holds the body open, connection closed', async (_name, headers) => {
    const stalled = stalledRequest(h.url, '/webhooks/clerk', headers, 1024 * 1024, 64 * 1024);
    const answer = await stalled.answer;
    expect(stalled.stillSending()).toBe(true);
    expect(answer.status).toBe(400);
    expect(answer.headers.connection).toBe('close');
    await stalled.closed;
    expect(h.app.bodies.reserved()).toBe(0);
  });
});

describe('a stalled body is dropped after the idle timeout', () => {
  it.each([
    ['a webhook with made-up Svix headers', '/webhooks/clerk', madeUpSvixHeaders(), 4096],
    ['a small /graphql body (read by the fast path)', '/graphql', {}, 4096],
    ['a larger /graphql body (read by Yoga)', '/graphql', {}, 50 * 1024],
  ])('%s: 408 REQUEST_TIMEOUT, the connection closed', async (_name, path, headers, declared) => {
    const stalled = stalledRequest(h.url, path, headers, declared, 100);
    const answer = await stalled.answer;
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body).errors[0].extensions.code).toBe('REQUEST_TIMEOUT');
    await stalled.closed;
    expect(h.app.bodies.reserved()).toBe(0);
  });
});

describe('unfinished bodies share one budget', () => {
  it('refuses a body past the budget with 503 and Retry-After, and takes bodies again once room is back', async () => {
    const first = stalledRequest(h.url, '/webhooks/clerk', madeUpSvixHeaders(), 1_000_000, 1000);
    await expect.poll(() => h.app.bodies.reserved()).toBe(1_000_000);

    const second = stalledRequest(h.url, '/webhooks/clerk', madeUpSvixHeaders(), 700_000, 1000);
    const refused = await second.answer;
    expect(second.stillSending()).toBe(true);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('SERVER_BUSY');
    await second.closed;
    // /graphql bodies take from the same budget.
    const graphql = stalledRequest(h.url, '/graphql', {}, 90 * 1024, 10);
    expect((await graphql.answer).status).toBe(503);

    first.abandon();
    await expect.poll(() => h.app.bodies.reserved()).toBe(0);
    const delivered = await postSignedWebhook(h.url, ignoredEvent, { secret: h.webhookSecret });
    expect(delivered.status).toBe(200);
    expect(await delivered.json()).toEqual({ status: 'ignored' });
  });
});

describe('legitimate deliveries', () => {
  it('a signed webhook is processed, and gives its reservation back', async () => {
    const response = await postSignedWebhook(h.url, ignoredEvent, { secret: h.webhookSecret });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ignored' });
    expect(h.app.bodies.reserved()).toBe(0);
  });

  it('Content-Type is matched case-insensitively (Application/JSON; Charset=UTF-8)', async () => {
    const response = await postSignedWebhook(h.url, ignoredEvent, {
      secret: h.webhookSecret,
      contentType: 'Application/JSON; Charset=UTF-8',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ignored' });
  });

  it('a forged signature with plausible headers is still refused once the body is read', async () => {
    const response = await postSignedWebhook(h.url, ignoredEvent, {
      secret: `whsec_${randomBytes(24).toString('base64')}`,
    });
    expect(response.status).toBe(400);
  });
});
