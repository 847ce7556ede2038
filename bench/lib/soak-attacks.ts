/**
 * The attacks of issue 19, at a low rate, for the soak (bench/soak.ts): each runs until `stop()` (or its own
 * request budget), spreads its requests over the replicas, and `stop()` resolves to what it saw. Loopback only.
 *
 * - junk requests: malformed or unsupported HTTP (a mutation without a Mutation type, bad `variables` JSON, a
 *   broken body, odd methods and content types, an `Origin: null` preflight), anonymous;
 * - stalled webhook bodies: anonymous connections to /webhooks/clerk that announce 1 MiB, send a little and stall;
 * - unique queries from one token (each one a prepared-response miss that wants a place in the store);
 * - junk session tokens (well-formed, unknown key ID);
 * - a removed member polling every replica for the roster it no longer may read.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** HTTP statuses (or 'socket error') and how many of each. */
export type Tally = Record<string, number>;

export function count(tally: Tally, key: string | number): void {
  tally[key] = (tally[key] ?? 0) + 1;
}

/** How many of a tally's answers were 5xx (or no answer at all). */
export function serverErrors(tally: Tally): number {
  return Object.entries(tally)
    .filter(([key]) => !/^[1-4]\d\d\b/.test(key))
    .reduce((sum, [, n]) => sum + n, 0);
}

export interface Attack<T> {
  /** Requests sent so far. */
  sent(): number;
  stop(): Promise<T>;
}

/**
 * `send(i)` about `perSecond` times a second (one at a time, so a slow server slows it down rather than piling up),
 * at most `max` times, until stopped.
 */
function paced<T>(
  perSecond: number,
  max: number,
  send: (i: number) => Promise<void>,
  result: () => T,
): Attack<T> {
  let stopping = false;
  let sent = 0;
  const loop = (async () => {
    for (let i = 0; i < max && !stopping; i++) {
      const started = Date.now();
      sent++;
      await send(i);
      await sleep(Math.max(0, 1000 / perSecond - (Date.now() - started)));
    }
  })();
  return {
    sent: () => sent,
    async stop() {
      stopping = true;
      await loop;
      return result();
    },
  };
}

const pick = <T>(items: readonly T[], i: number) => items[i % items.length] as T;

async function statusOf(url: string, init: RequestInit): Promise<{ status: string; response?: Response }> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return { status: String(response.status), response };
  } catch {
    return { status: 'socket error' };
  }
}

/** Malformed and unsupported requests nothing legitimate sends. Every one must be a 4xx (or a 2xx), never a 5xx. */
const JUNK: { name: string; path: string; init: RequestInit }[] = [
  {
    name: 'mutation, no Mutation type',
    path: '/graphql',
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"mutation { x }"}',
    },
  },
  { name: 'GET, variables not JSON', path: '/graphql?query=%7B__typename%7D&variables=%7Bnope', init: {} },
  {
    name: 'GET, extensions not JSON',
    path: '/graphql?query=%7B__typename%7D&extensions=%5B%5B',
    init: {},
  },
  {
    name: 'POST, broken JSON',
    path: '/graphql',
    init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":' },
  },
  {
    name: 'POST, JSON not an object',
    path: '/graphql',
    init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2,3]' },
  },
  {
    name: 'POST, text/plain',
    path: '/graphql',
    init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'query { __typename }' },
  },
  {
    name: 'POST, Application/JSON (valid, case differs)',
    path: '/graphql',
    init: {
      method: 'POST',
      headers: { 'content-type': 'Application/JSON' },
      body: '{"query":"{ __typename }"}',
    },
  },
  { name: 'PUT', path: '/graphql', init: { method: 'PUT', body: 'x' } },
  { name: 'DELETE', path: '/graphql', init: { method: 'DELETE' } },
  {
    name: 'variables of the wrong type',
    path: '/graphql',
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"query($id: ID!) { organization(id: $id) { id } }","variables":{"id":{"x":1}}}',
    },
  },
  { name: 'unknown path', path: '/graphql/../../etc/passwd', init: {} },
  {
    name: 'webhook, no Svix headers',
    path: '/webhooks/clerk',
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"type":"user.deleted"}',
    },
  },
];

export interface JunkReport {
  sent: number;
  statuses: Tally;
  /** Answers with a 5xx, by request kind. */
  fiveXxByKind: Tally;
  /** `Origin: null` preflights answered with `Access-Control-Allow-Origin: null` (must be 0). */
  originNullEchoed: number;
}

export function junkRequests(urls: readonly string[], perSecond = 10, max = 100_000): Attack<JunkReport> {
  const statuses: Tally = {};
  const fiveXxByKind: Tally = {};
  let originNullEchoed = 0;
  let sent = 0;
  return paced(
    perSecond,
    max,
    async (i) => {
      sent++;
      const url = pick(urls, i);
      if (i % (JUNK.length + 1) === JUNK.length) {
        const { status, response } = await statusOf(`${url}/graphql`, {
          method: 'OPTIONS',
          headers: { origin: 'null', 'access-control-request-method': 'POST' },
        });
        count(statuses, status);
        if (response?.headers.get('access-control-allow-origin') === 'null') originNullEchoed++;
        return;
      }
      const junk = pick(JUNK, i);
      const { status } = await statusOf(`${url}${junk.path}`, junk.init);
      count(statuses, status);
      if (serverErrors({ [status]: 1 }) > 0) count(fiveXxByKind, junk.name);
    },
    () => ({ sent, statuses, fiveXxByKind, originNullEchoed }),
  );
}

export interface StalledBodiesReport {
  opened: number;
  /** Ended by the server (an answer or a close), and how long it held them. */
  endedByServer: number;
  heldMsMedian: number | null;
  heldMsMax: number | null;
  /** What the server answered, when it answered (a status line) before closing. */
  answers: Tally;
  /** Still open when the soak ended, and for how long the oldest had been. */
  stillOpen: number;
  oldestOpenMs: number;
}

/**
 * Keeps `concurrent` anonymous webhook uploads open per replica: each announces 1 MiB, sends 16 KiB and stalls. A
 * fixed server refuses them before the body (no Svix headers) or drops them after a short idle timeout; each one
 * it ends is replaced (at most `perSecond` new ones a second in all, `max` in all).
 */
export function stalledWebhookBodies(
  urls: readonly string[],
  concurrent = 20,
  perSecond = 20,
  max = 20_000,
): Attack<StalledBodiesReport> {
  const open = new Map<number, { startedAt: number; destroy(): void }>();
  const held: number[] = [];
  const answers: Tally = {};
  let opened = 0;
  const openOne = (i: number) => {
    const { hostname, port } = new URL(pick(urls, i));
    const socket = connect(Number(port), hostname);
    const startedAt = Date.now();
    open.set(i, { startedAt, destroy: () => socket.destroy() });
    opened++;
    let answered = false;
    socket.on('connect', () => {
      socket.write(
        `POST /webhooks/clerk HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${1024 * 1024}\r\n\r\n{"data":"${'x'.repeat(16 * 1024)}`,
      );
    });
    socket.on('data', (data) => {
      if (answered) return;
      answered = true;
      count(answers, /^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'))?.[1] ?? 'garbled');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      // Ours to close at the end: not the server's doing.
      if (!open.delete(i)) return;
      held.push(Date.now() - startedAt);
    });
  };
  let stopped = false;
  const attack = paced(
    perSecond,
    max,
    async (i) => {
      while (!stopped && open.size >= concurrent * urls.length) await sleep(50);
      if (!stopped) openOne(i);
    },
    () => undefined,
  );
  return {
    sent: attack.sent,
    async stop() {
      stopped = true;
      const now = Date.now();
      const still = [...open.values()];
      open.clear();
      for (const each of still) each.destroy();
      await attack.stop();
      const sorted = [...held].sort((a, b) => a - b);
      return {
        opened,
        endedByServer: held.length,
        heldMsMedian: sorted.length ? (sorted[Math.floor(sorted.length / 2)] as number) : null,
        heldMsMax: sorted.length ? (sorted[sorted.length - 1] as number) : null,
        answers,
        stillOpen: still.length,
        oldestOpenMs: still.length ? now - Math.min(...still.map((each) => each.startedAt)) : 0,
      };
    },
  };
}

export interface UniqueQueriesReport {
  sent: number;
  statuses: Tally;
}

/** One member's unique queries (a fresh alias each time: a prepared-response miss that asks to be stored). */
export function uniqueQueries(
  urls: readonly string[],
  token: string,
  organizationId: string,
  perSecond = 20,
  max = 100_000,
): Attack<UniqueQueriesReport> {
  const statuses: Tally = {};
  let sent = 0;
  return paced(
    perSecond,
    max,
    async (i) => {
      sent++;
      const alias = `u${randomBytes(6).toString('hex')}`;
      const { status } = await statusOf(`${pick(urls, i)}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: `{ ${alias}: organization(id: "${organizationId}") { members(limit: 100) { totalCount members { userId firstName lastName email role imageUrl } } } }`,
        }),
      });
      count(statuses, status);
    },
    () => ({ sent, statuses }),
  );
}

/**
 * A well-formed session token whose `kid` no JWKS lists (the signature is random bytes: an unknown key is refused
 * before any signature check).
 */
export function junkToken(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return [
    part({ alg: 'RS256', typ: 'JWT', kid: `ins_${randomBytes(12).toString('hex')}` }),
    part({ sub: `user_${randomBytes(8).toString('hex')}`, iat: now, nbf: now - 5, exp: now + 60 }),
    randomBytes(256).toString('base64url'),
  ].join('.');
}

export interface JunkTokensReport {
  sent: number;
  /** Status and GraphQL error code, e.g. "200 UNAUTHENTICATED" or "401 UNAUTHENTICATED". */
  answers: Tally;
}

export function junkTokens(urls: readonly string[], perSecond = 20, max = 100_000): Attack<JunkTokensReport> {
  const answers: Tally = {};
  let sent = 0;
  return paced(
    perSecond,
    max,
    async (i) => {
      sent++;
      try {
        const response = await fetch(`${pick(urls, i)}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${junkToken()}` },
          body: JSON.stringify({ query: '{ viewer { userId } }' }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = await response.text();
        count(answers, `${response.status} ${/"code":"([A-Z_]+)"/.exec(body)?.[1] ?? ''}`.trim());
      } catch {
        count(answers, 'socket error');
      }
    },
    () => ({ sent, answers }),
  );
}

export interface RemovedMemberReport {
  polls: number;
  statuses: Tally;
  /** Answers that showed the roster, per replica (index in `urls`), with when they were received. */
  servedAt: number[][];
}

/**
 * A member polls every replica in turn for their organization's roster (`perSecond` polls a second). Their removal
 * is the caller's business: this records which answers still showed the roster, and when.
 */
export function removedMemberPolling(
  urls: readonly string[],
  token: string,
  organizationId: string,
  perSecond = 30,
  max = 100_000,
): Attack<RemovedMemberReport> {
  const statuses: Tally = {};
  const servedAt: number[][] = urls.map(() => []);
  let polls = 0;
  return paced(
    perSecond,
    max,
    async (i) => {
      polls++;
      const replica = i % urls.length;
      try {
        const response = await fetch(`${urls[replica]}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({
            query: `{ organization(id: "${organizationId}") { members(limit: 5) { totalCount members { userId } } } }`,
          }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await response.json()) as { data?: { organization?: { members?: unknown } | null } };
        count(statuses, response.status);
        if (body.data?.organization?.members) servedAt[replica]?.push(Date.now());
      } catch {
        count(statuses, 'socket error');
      }
    },
    () => ({ polls, statuses, servedAt }),
  );
}
