/**
 * Clerk under pressure, end to end (real server, real emulator, HTTP): a request's deadline covers the wait for the
 * budget, a hanging Clerk opens the circuit (stale copies at once, cold reads fail fast, sockets bounded) and a
 * probe closes it again.
 *
 * "At once" is shown without a stopwatch: the request deadline is set beyond the test's own timeout, so an answer
 * that waited for the budget, for Clerk or for the deadline could not arrive while the test runs; counters (Clerk's
 * request log, the server's refusal metric) say why each answer came.
 *
 * The flood-fairness case (one user's 50 concurrent cold reads against another user's) is in test/deadlines.test.ts
 * end to end, and in test/upstream.test.ts on a fake clock.
 */
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/observability/logger.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, metricOf, startHarness } from './helpers/harness.js';

const ROSTER = `query Roster($id: ID!) {
  organization(id: $id) { members(limit: 500) { fromCache stale totalCount } }
}`;
type RosterData = { organization: { members: { fromCache: boolean; stale: boolean; totalCount: number } } };
const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';

afterEach(() => {
  vi.useRealTimers();
});

/** A cold organization of `members` members, and its first member's token. */
function organization(h: Harness, members = 2) {
  const team = seedTeam(h.emulator, { admins: 0, members, tokens: { expiresInS: 600 } });
  return { id: team.organizationId, token: team.members[0]?.token as string };
}

function rosterQuery(h: Harness, org: { id: string; token: string }) {
  return h.query<RosterData, { id: string }>(ROSTER, { token: org.token, variables: { id: org.id } });
}

/** Calls the upstream policy refused without asking Clerk, for this reason, as /metrics counts them. */
const refusals = (h: Harness, reason: string) =>
  metricOf(h.adminUrl, 'clerk_calls_refused_total', { route: 'memberships', reason });

/** Beyond the test's own timeout (30 s): an answer that waited for its deadline never arrives in time. */
const UNREACHABLE_DEADLINE_MS = 60_000;

describe('the request deadline covers the wait for the budget', () => {
  it('budget 1 call / hour: the second cold query is refused RATE_LIMITED on arrival, never queued', async () => {
    const h = await startHarness({
      emulator: { seed: 'empty' },
      config: {
        clerkRateLimit: 1,
        clerkRateLimitWindowSeconds: 3600,
        clerkTimeoutMs: 400,
        requestDeadlineMs: UNREACHABLE_DEADLINE_MS,
      },
    });
    try {
      const first = await rosterQuery(h, organization(h));
      expect(first.data?.organization.members.totalCount).toBe(2);
      const refusedBefore = await refusals(h, 'deadline');
      // The next free slot is an hour away, far beyond the deadline: the call must be refused as it arrives.
      // Waiting in the queue instead would end only at the deadline, after this test's timeout: the queue is
      // watched while the query is on its way, so such a wait fails here at once, with its reason.
      let answered = false;
      const pending = rosterQuery(h, organization(h)).finally(() => {
        answered = true;
      });
      pending.catch(() => {}); // awaited below, unless the queue check fails first
      let queued = 0;
      await vi.waitFor(
        () => {
          queued = Math.max(queued, h.app.upstream.stats().queued);
          expect(answered || queued > 0).toBe(true);
        },
        { timeout: 20_000, interval: 1 },
      );
      expect(queued, 'the call waited in the queue for the budget').toBe(0);
      const second = await pending;
      expect(second.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      // Its retry hint names that slot (the hour, padded by 5%), not its deadline's end.
      expect(second.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(
        UNREACHABLE_DEADLINE_MS / 1000,
      );
      expect(await refusals(h, 'deadline')).toBe(refusedBefore + 1);
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
    // Counted a turn later, and uncounted on the client's FIN: when the server drops a socket and opens the next one
    // at once, the proxy may see the new connection before the old one's end in the same poll of the event loop, and
    // would count a fifth socket the server never held.
    let counted = false;
    setImmediate(() => {
      if (closed) return;
      counted = true;
      open++;
      most = Math.max(most, open);
    });
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    upstream.connect(targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      if (counted) open--;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('end', close);
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
        // Each call still gives up after the timeout; only a wait for the deadline itself would outlast the test.
        requestDeadlineMs: UNREACHABLE_DEADLINE_MS,
        clerkMaxSockets: maxSockets,
        clerkBreakerFailures: 5,
        clerkBreakerCooldownMs: 10_000,
      },
      logger: createLogger('info', (line) => logs.push(JSON.parse(line))),
    });
    proxy.forwardTo(h.emulator.url);
    try {
      const organizations = Array.from({ length: 12 }, () => organization(h));
      for (const org of organizations) expect((await rosterQuery(h, org)).errors).toBeUndefined();

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
      const first = await Promise.all(organizations.map((org) => rosterQuery(h, org)));
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
      const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/^clerk_circuit_state\{route="memberships"\} 2$/m);
      expect(metrics).toMatch(/^clerk_circuit_state\{route="invitations"\} 0$/m);

      // Open: no new Clerk call, the stale copy at once. Calls let through before it opened may still be on their
      // way (waiting for one of the bounded sockets, or in the proxy) and reach Clerk as hung ones time out: at most
      // the twelve re-reads less the sockets they could hold. A closed circuit would make 41 more (3 rounds + cold).
      const leftBehind = organizations.length - maxSockets;
      const callsWhenOpened = h.emulator.control.counters()[MEMBERSHIPS] ?? 0;
      const refusedWhenOpened = await refusals(h, 'circuit_open');
      const stale = [];
      for (let round = 0; round < 3; round++) {
        for (const org of organizations) stale.push(await rosterQuery(h, org));
      }
      // Each answered from its stale copy because the breaker refused its re-read (one refusal per query), not
      // after waiting for Clerk: none made a call, and a wait for Clerk's hang ends only at the deadline.
      for (const result of stale) {
        expect(result.data?.organization.members).toMatchObject({ stale: true, fromCache: true });
      }
      expect(await refusals(h, 'circuit_open')).toBe(refusedWhenOpened + stale.length);

      // Cold reads fail fast: refused by the breaker, one refusal each.
      const cold = [];
      for (let i = 0; i < 5; i++) cold.push(await rosterQuery(h, organization(h)));
      for (const result of cold) expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(await refusals(h, 'circuit_open')).toBe(refusedWhenOpened + stale.length + cold.length);
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
      const recovered = await rosterQuery(h, organizations[0] as { id: string; token: string });
      expect(recovered.data?.organization.members).toMatchObject({
        stale: false,
        fromCache: false,
        totalCount: 3,
      });
      expect(h.app.upstream.stats().circuits.memberships).toBe('closed');
      expect(logs.map((line) => line.msg)).toContain(
        'Clerk circuit closed: calls on this route are made again',
      );
      expect(await (await fetch(`${h.adminUrl}/metrics`)).text()).toMatch(
        /^clerk_circuit_state\{route="memberships"\} 0$/m,
      );
    } finally {
      await h.close();
      await proxy.close();
    }
  });
});
