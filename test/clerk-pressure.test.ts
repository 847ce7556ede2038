/**
 * Clerk under pressure, end to end (real server, real emulator, HTTP): a request's deadline covers the wait for the
 * budget, a hanging Clerk opens the circuit (stale copies at once, cold reads fail fast, sockets bounded) and a
 * probe closes it again.
 *
 * The flood-fairness case (one user's 50 concurrent cold reads against another user's) is in test/deadlines.test.ts
 * end to end, and in test/upstream.test.ts on a fake clock.
 */
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.js';
import { type Harness, startHarness } from './helpers/harness.js';

const ROSTER = `query Roster($id: ID!) {
  organization(id: $id) { members(limit: 500) { fromCache stale totalCount } }
}`;
type RosterData = { organization: { members: { fromCache: boolean; stale: boolean; totalCount: number } } };
const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';

afterEach(() => {
  vi.useRealTimers();
});

function organization(h: Harness, members = 2) {
  const org = h.emulator.store.createOrganization({ name: `Org ${Math.random()}` });
  const [first] = h.emulator.store.populate(org.id, members);
  const token = h.emulator.mintToken({ userId: first?.userId as string, orgId: org.id, expiresInS: 600 });
  return { id: org.id, token };
}

async function timedQuery(h: Harness, org: { id: string; token: string }) {
  const startedAt = performance.now();
  const result = await h.query<RosterData, { id: string }>(ROSTER, {
    token: org.token,
    variables: { id: org.id },
  });
  return { ...result, ms: performance.now() - startedAt };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

describe('the request deadline covers the wait for the budget', () => {
  it('budget 1 call / 3 s, timeout 400 ms: the second cold query fails fast with RATE_LIMITED', async () => {
    const h = await startHarness({
      emulator: { seed: 'empty' },
      // REQUEST_DEADLINE_MS at its default for CLERK_TIMEOUT_MS=400 (the harness's own is generous).
      config: {
        clerkRateLimit: 1,
        clerkRateLimitWindowSeconds: 3,
        clerkTimeoutMs: 400,
        requestDeadlineMs: 1400,
      },
    });
    try {
      const first = await timedQuery(h, organization(h));
      expect(first.data?.organization.members.totalCount).toBe(2);
      const second = await timedQuery(h, organization(h));
      expect(second.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      // The next free slot is 3.15 s after the first call (the window padded by 5%).
      expect(second.errors?.[0]?.extensions?.retryAfterSeconds).toBeOneOf([3, 4]);
      // Refused on arrival, not after waiting for the next free slot (3.15 s away) or the timeout (400 ms).
      expect(second.ms).toBeLessThan(400);
      expect(h.emulator.control.counters()[MEMBERSHIPS]).toBe(1);
    } finally {
      await h.close();
    }
  });
});

/** A TCP proxy in front of the emulator that counts the connections the server holds to "Clerk". */
async function connectionCounter() {
  let targetPort = 0;
  let open = 0;
  let most = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    open++;
    most = Math.max(most, open);
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    upstream.connect(targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open--;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('close', close);
      socket.on('error', close);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    forwardTo(url: string) {
      targetPort = Number(new URL(url).port);
    },
    get open() {
      return open;
    },
    get most() {
      return most;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a hanging Clerk with a warm cache', () => {
  it('opens the circuit: stale copies at once, cold reads fail fast, bounded sockets; a probe closes it', async () => {
    const proxy = await connectionCounter();
    const logs: Record<string, unknown>[] = [];
    const maxSockets = 4;
    const timeoutMs = 300;
    const h = await startHarness({
      emulator: { seed: 'empty' },
      config: {
        clerkApiUrl: proxy.url,
        clerkTimeoutMs: timeoutMs,
        requestDeadlineMs: timeoutMs + 1000,
        clerkMaxSockets: maxSockets,
        clerkBreakerFailures: 5,
        clerkBreakerCooldownMs: 10_000,
      },
      logger: createLogger('info', (line) => logs.push(JSON.parse(line))),
    });
    proxy.forwardTo(h.emulator.url);
    try {
      const organizations = Array.from({ length: 12 }, () => organization(h));
      for (const org of organizations) expect((await timedQuery(h, org)).errors).toBeUndefined();

      h.emulator.control.injectFault({ route: MEMBERSHIPS, kind: 'hang', fraction: 1 });
      // A change in Clerk for each organization: its webhook invalidates our copy, which must now be re-read (a
      // member added without a webhook, then the organization renamed: a membership webhook would be patched in).
      for (const org of organizations) {
        const user = h.emulator.store.createUser({ emailAddress: `${Math.random()}@x.test` });
        h.emulator.store.addMembership(org.id, user.id, 'org:member');
        await h.clerk.organizations.updateOrganization(org.id, { name: `Renamed ${user.id}` });
      }
      await h.emulator.control.webhooksSettled();

      // Before the circuit opens, each re-read waits for the timeout, then the stale copy is served. Twelve at once:
      // more calls than sockets allowed.
      const first = await Promise.all(organizations.map((org) => timedQuery(h, org)));
      for (const result of first) {
        expect(result.data?.organization.members).toMatchObject({
          stale: true,
          fromCache: true,
          totalCount: 2,
        });
      }
      expect(h.app.upstream.stats().circuits.memberships).toBe('open');
      expect(logs.filter((line) => line.msg?.toString().startsWith('Clerk circuit opened'))).toMatchObject([
        { level: 'warn', route: 'memberships' },
      ]);
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      expect(metrics).toMatch(/^clerk_circuit_state\{route="memberships"\} 2$/m);
      expect(metrics).toMatch(/^clerk_circuit_state\{route="invitations"\} 0$/m);

      // Open: no new Clerk call, the stale copy at once. Calls let through before it opened may still be on their
      // way (waiting for one of the bounded sockets, or in the proxy) and reach Clerk as hung ones time out: at most
      // the twelve re-reads less the sockets they could hold. A closed circuit would make 41 more (3 rounds + cold).
      const leftBehind = organizations.length - maxSockets;
      const callsWhenOpened = h.emulator.control.counters()[MEMBERSHIPS] ?? 0;
      const stale = [];
      for (let round = 0; round < 3; round++) {
        for (const org of organizations) stale.push(await timedQuery(h, org));
      }
      for (const result of stale) {
        expect(result.data?.organization.members).toMatchObject({ stale: true, fromCache: true });
        // None waited for Clerk (that would take the 300 ms timeout).
        expect(result.ms).toBeLessThan(timeoutMs / 2);
      }
      expect(median(stale.map((result) => result.ms))).toBeLessThan(50);

      // Cold reads fail fast.
      const cold = [];
      for (let i = 0; i < 5; i++) cold.push(await timedQuery(h, organization(h)));
      for (const result of cold) {
        expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
        expect(result.ms).toBeLessThan(timeoutMs / 2);
      }
      expect(median(cold.map((result) => result.ms))).toBeLessThan(50);
      expect((h.emulator.control.counters()[MEMBERSHIPS] ?? 0) - callsWhenOpened).toBeLessThanOrEqual(
        leftBehind,
      );

      // Twelve hanging calls, never more sockets than the bound.
      expect(proxy.most).toBeLessThanOrEqual(maxSockets);
      expect(proxy.most).toBeGreaterThan(0);

      // Recovery: Clerk answers again; after the cooldown one probe closes the circuit.
      h.emulator.control.clearFaults();
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 10_000);
      const recovered = await timedQuery(h, organizations[0] as { id: string; token: string });
      expect(recovered.data?.organization.members).toMatchObject({
        stale: false,
        fromCache: false,
        totalCount: 3,
      });
      expect(h.app.upstream.stats().circuits.memberships).toBe('closed');
      expect(logs.map((line) => line.msg)).toContain(
        'Clerk circuit closed: calls on this route are made again',
      );
      expect(await (await fetch(`${h.url}/metrics`)).text()).toMatch(
        /^clerk_circuit_state\{route="memberships"\} 0$/m,
      );
    } finally {
      await h.close();
      await proxy.close();
    }
  });
});
