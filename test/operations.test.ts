/** What operators see: metrics, logs, request IDs, health, and a graceful shutdown. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/logger.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

const logLines: string[] = [];
let h: Harness;
let organizationId: string;
let token: string;
beforeAll(async () => {
  h = await startHarness({ logger: createLogger('debug', (line) => logLines.push(line)) });
  organizationId = h.emulator.demo?.acme.organizationId as string;
  token = h.emulator.mintToken({
    userId: h.emulator.demo?.acme.adminUserIds[0] as string,
    orgId: organizationId,
  });
});
afterAll(() => h.close());

const teamQuery = `query Team($id: ID!) { organization(id: $id) { members(includePending: true) { fromCache members { email } } } }`;

describe('/metrics', () => {
  it('exposes cache, Clerk and webhook metrics in Prometheus format', async () => {
    // The server is shared with the other tests of this file, which may run before this one: assert what this test
    // adds to each series, on an organization nobody else reads.
    const { organizationId: id, members } = seedTeam(h.emulator, {
      name: 'Metrics Co',
      admins: 0,
      members: 2,
    });
    const orgToken = members[0]?.token;
    const before = await scrape();

    await h.query(teamQuery, { token: orgToken, variables: { id } }); // miss: reads Clerk
    await h.query(teamQuery, { token: orgToken, variables: { id } }); // hit
    const response = await fetch(`${h.adminUrl}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const after = await response.text();
    const added = (series: string, from = before, to = after) =>
      metricValue(to, series) - metricValue(from, series);
    expect(added('team_cache_reads_total{part="members",outcome="miss"}')).toBe(1);
    expect(added('team_cache_reads_total{part="members",outcome="hit"}')).toBe(1);
    expect(added('clerk_request_duration_seconds_count{route="memberships",outcome="ok"}')).toBe(1);
    expect(added('clerk_requests_total{route="invitations",outcome="ok",status="200"}')).toBe(1);
    expect(added('team_cache_entries')).toBe(2); // this organization's roster and invitations
    expect(added('http_responses_total{route="/graphql",status="200"}')).toBe(2);

    // A Clerk write's webhook is counted. (Scraped apart from the reads above: it also starts a background re-read.)
    const user = h.emulator.store.createUser({ emailAddress: 'metrics@ops.test' });
    await h.clerk.organizations.createOrganizationMembership({
      organizationId: id,
      userId: user.id,
      role: 'org:member',
    });
    await h.emulator.control.webhooksSettled();
    const processed =
      'webhook_deliveries_total{event_type="organizationMembership.created",outcome="processed"}';
    expect(added(processed, after, await scrape())).toBe(1);
    expect(after).toMatch(/^process_cpu_user_seconds_total \d/m);
  });
});

describe('the admin port', () => {
  it('serves /metrics there only: the public port answers 404; the probes answer on both', async () => {
    const onPublic = await fetch(`${h.url}/metrics`);
    expect(onPublic.status).toBe(404);
    expect(await onPublic.text()).not.toMatch(/http_responses_total/);
    for (const base of [h.url, h.adminUrl]) {
      for (const path of ['/healthz', '/readyz']) {
        const probe = await fetch(`${base}${path}`);
        expect(probe.status, `${base}${path}`).toBe(200);
        await probe.arrayBuffer();
      }
    }
    // Nothing else is served there: no GraphQL, no webhooks.
    for (const path of ['/graphql', '/webhooks/clerk', '/']) {
      const other = await fetch(`${h.adminUrl}${path}`, { method: 'POST', body: '{}' });
      expect(other.status, path).toBe(404);
      await other.arrayBuffer();
    }
    // Asked last: the responses above are counted by then, whichever test of this file ran first.
    const admin = await fetch(`${h.adminUrl}/metrics`);
    expect(admin.status).toBe(200);
    expect(await admin.text()).toMatch(/^http_responses_total\{/m);
  });
});

describe('live streams', () => {
  it('carry the headers that keep proxies from buffering them', async () => {
    const controller = new AbortController();
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({
        query: `subscription { teamChanged(organizationId: "${organizationId}") { reasons } }`,
      }),
      signal: controller.signal,
    });
    try {
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('x-accel-buffering')).toBe('no');
      expect(response.headers.get('cache-control')).toBe('no-cache');
    } finally {
      controller.abort();
    }
    // A plain query's answer is not a stream: no such header.
    const plain = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    });
    expect(plain.headers.get('x-accel-buffering')).toBeNull();
    await plain.arrayBuffer();
  });
});

async function scrape() {
  return (await fetch(`${h.adminUrl}/metrics`)).text();
}

/** The value of one series (`name{labels}` exactly as exposed) in a Prometheus text page; 0 when absent. */
function metricValue(page: string, series: string): number {
  const line = page.split('\n').find((each) => each.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('logs', () => {
  it('are JSON lines that never contain a token or an email', async () => {
    await h.query(teamQuery, { token, variables: { id: organizationId } });
    await h.query(teamQuery, { token: `${token}x`, variables: { id: organizationId } }); // refused token
    await fetch(`${h.url}/webhooks/clerk`, { method: 'POST', body: '{}' }); // unsigned
    expect(logLines.length).toBeGreaterThan(0);
    // At debug level every request gets one line, tied to its X-Request-ID.
    const accessLines = logLines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');
    expect(accessLines.some((entry) => entry.path === '/graphql' && entry.status === 401)).toBe(true);
    expect(
      accessLines.every((entry) => typeof entry.requestId === 'string' && entry.requestId.length > 0),
    ).toBe(true);
    const emails = h.emulator.store
      .listMemberships(organizationId)
      .map((m) => h.emulator.store.getUser(m.userId)?.emailAddress);
    for (const line of logLines) {
      expect(() => JSON.parse(line)).not.toThrow();
      expect(line).not.toContain(token.slice(0, 40));
      for (const email of emails) expect(line).not.toContain(email);
      expect(line).not.toMatch(/sk_test_/);
    }
  });
});

describe('request IDs', () => {
  it('echoes a sane X-Request-ID, and makes one up otherwise', async () => {
    const echoed = await fetch(`${h.url}/healthz`, { headers: { 'x-request-id': 'req-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('req-123');
    const invented = await fetch(`${h.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces\t' } });
    expect(invented.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('graceful shutdown', () => {
  it('turns /readyz 503 and refuses new requests while in-flight ones finish', async () => {
    const draining = await startHarness({ gateClerk: true });
    const acme = draining.emulator.demo?.acme;
    const drainingToken = draining.emulator.mintToken({
      userId: acme?.adminUserIds[0] as string,
      orgId: acme?.organizationId,
    });
    expect((await fetch(`${draining.url}/readyz`)).status).toBe(200);

    // Clerk's answer to the query's roster read is held on its way back: the query stays in flight until released.
    const held = draining.gate?.hold(
      (path) => path === `/v1/organizations/${acme?.organizationId}/memberships`,
    );
    if (!held) throw new Error('the harness gates Clerk');
    let answered = false;
    const inFlight = draining
      .query(teamQuery, { token: drainingToken, variables: { id: acme?.organizationId } })
      .finally(() => {
        answered = true;
      });
    await held.answered;
    const shutdown = draining.app.shutdown({ graceMs: 5000 });
    // New requests: refused at the socket once the listener is closed, or 503 on a kept-alive connection.
    const readyDuringShutdown = await fetch(`${draining.url}/readyz`).then(
      (response) => response.status,
      () => 'refused' as const,
    );
    expect([503, 'refused']).toContain(readyDuringShutdown);
    expect(answered).toBe(false);

    held.release();
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.data).toBeTruthy();
    await shutdown;
    await draining.gate?.close();
    await draining.emulator.close();
  });
});
