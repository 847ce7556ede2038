import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClerkEmulator, DemoFixture } from '../src/contract.js';
import { startClerkEmulator } from '../src/index.js';
import { api, clerkError, expectClerkErrorResponse, sdkFor, startDemoEmulator } from './helpers.js';

const MEMBERSHIPS_ROUTE = 'GET /v1/organizations/{id}/memberships';
const ORGANIZATION_ROUTE = 'GET /v1/organizations/{id}';

let emulator: ClerkEmulator;
let demo: DemoFixture;
let clerk: ReturnType<typeof sdkFor>;

beforeAll(async () => {
  ({ emulator, demo, clerk } = await startDemoEmulator());
});

afterAll(async () => {
  await emulator?.close();
});

describe('counters and request log', () => {
  it('counts requests per route key and resets', async () => {
    emulator.control.resetCounters();
    expect(emulator.control.counters()[MEMBERSHIPS_ROUTE] ?? 0).toBe(0);
    for (let i = 0; i < 3; i++) {
      await clerk.organizations.getOrganizationMembershipList({ organizationId: demo.acme.organizationId });
    }
    await clerk.organizations.getOrganization({ organizationId: demo.globex.organizationId });
    await clerkError(clerk.organizations.getOrganization({ organizationId: 'org_missing' }));
    const counters = emulator.control.counters();
    expect(counters[MEMBERSHIPS_ROUTE]).toBe(3);
    expect(counters[ORGANIZATION_ROUTE]).toBe(2);

    emulator.control.resetCounters();
    const after = emulator.control.counters();
    expect(after[MEMBERSHIPS_ROUTE] ?? 0).toBe(0);
    expect(after[ORGANIZATION_ROUTE] ?? 0).toBe(0);
  });

  it('logs method, route key, concrete path, parsed query and status', async () => {
    emulator.control.resetCounters();
    const before = Date.now();
    const orgId = demo.acme.organizationId;
    const res = await api(
      emulator,
      `/organizations/${orgId}/invitations?status=pending&status=revoked&limit=5`,
    );
    await res.arrayBuffer();
    const missing = await api(emulator, '/organizations/org_missing');
    await missing.arrayBuffer();

    const log = emulator.control.requestLog();
    const invitations = log.filter((e) => e.path === `/v1/organizations/${orgId}/invitations`).at(-1);
    expect(invitations).toMatchObject({
      method: 'GET',
      route: 'GET /v1/organizations/{id}/invitations',
      status: 200,
      query: { status: ['pending', 'revoked'], limit: '5' },
    });
    expect(invitations?.at).toBeGreaterThanOrEqual(before - 1000);
    const notFound = log.filter((e) => e.path === '/v1/organizations/org_missing').at(-1);
    expect(notFound).toMatchObject({ method: 'GET', route: ORGANIZATION_ROUTE, status: 404 });
  });

  it('counts write routes by their keys', async () => {
    emulator.control.resetCounters();
    const user = emulator.store.createUser({ emailAddress: `counted-${Date.now()}@example.test` });
    await clerk.organizations.createOrganizationMembership({
      organizationId: demo.globex.organizationId,
      userId: user.id,
      role: 'org:member',
    });
    await clerk.organizations.deleteOrganizationMembership({
      organizationId: demo.globex.organizationId,
      userId: user.id,
    });
    const counters = emulator.control.counters();
    expect(counters['POST /v1/organizations/{id}/memberships']).toBe(1);
    expect(
      Object.keys(counters).some((key) => key.startsWith('DELETE /v1/organizations/{id}/memberships/')),
    ).toBe(true);
  });
});

describe('latency', () => {
  it('latencyMs delays every /v1 response by at least that much', async () => {
    const slow = await startClerkEmulator({ seed: 'empty', latencyMs: 150 });
    try {
      const started = performance.now();
      const list = await sdkFor(slow).organizations.getOrganizationList();
      expect(list.totalCount).toBe(0);
      expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await slow.close();
    }
  });

  it('setLatency changes it at runtime', async () => {
    emulator.control.setLatency({ fixedMs: 120 });
    try {
      const started = performance.now();
      await clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId });
      expect(performance.now() - started).toBeGreaterThanOrEqual(120);
    } finally {
      emulator.control.setLatency({ fixedMs: 0 });
    }
  });
});

describe('rate limit', () => {
  it('a token bucket of 3 per 10 s: the 4th request gets 429 with Retry-After', async () => {
    emulator.control.setRateLimit({ requests: 3, windowMs: 10_000 });
    try {
      for (let i = 0; i < 3; i++) {
        await clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId });
      }
      const res = await api(emulator, `/organizations/${demo.acme.organizationId}`);
      const retryAfter = Number(res.headers.get('retry-after'));
      await expectClerkErrorResponse(res, 429);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(10);

      const err = await clerkError(
        clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId }),
      );
      expect(err.status).toBe(429);
      expect(err.retryAfter).toBeGreaterThanOrEqual(1);
    } finally {
      emulator.control.setRateLimit(false);
    }
    const org = await clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId });
    expect(org.id).toBe(demo.acme.organizationId);
  });

  it('the rateLimit start option applies too', async () => {
    const limited = await startClerkEmulator({ seed: 'empty', rateLimit: { requests: 2, windowMs: 60_000 } });
    try {
      const client = sdkFor(limited);
      await client.organizations.getOrganizationList();
      await client.organizations.getOrganizationList();
      const err = await clerkError(client.organizations.getOrganizationList());
      expect(err.status).toBe(429);
      expect(err.retryAfter).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });
});

describe('seeds', () => {
  it('demo seed is deterministic: a second emulator has identical fixture and membership IDs', async () => {
    const twin = await startClerkEmulator({ seed: 'demo' });
    try {
      expect(twin.demo).toEqual(demo);
      const twinClient = sdkFor(twin);
      for (const orgId of [demo.acme.organizationId, demo.globex.organizationId]) {
        const mine = await clerk.organizations.getOrganizationMembershipList({
          organizationId: orgId,
          limit: 50,
        });
        const theirs = await twinClient.organizations.getOrganizationMembershipList({
          organizationId: orgId,
          limit: 50,
        });
        expect(
          theirs.data.map((m) => [m.id, m.publicUserData?.userId, m.publicUserData?.identifier]),
        ).toEqual(mine.data.map((m) => [m.id, m.publicUserData?.userId, m.publicUserData?.identifier]));
      }
      expect(twin.store.listMemberships(demo.initech.organizationId).map((m) => m.id)).toEqual(
        emulator.store.listMemberships(demo.initech.organizationId).map((m) => m.id),
      );
    } finally {
      await twin.close();
    }
  });

  it('demo fixture sizes: acme 2 admins + 6 members + 3 pending invitations, globex 500, initech 2500', async () => {
    expect(demo.acme.slug).toBe('acme');
    expect(demo.acme.adminUserIds).toHaveLength(2);
    expect(demo.acme.memberUserIds).toHaveLength(6);
    expect(demo.acme.pendingInvitationIds).toHaveLength(3);
    expect(demo.globex).toMatchObject({ slug: 'globex', memberCount: 500 });
    expect(demo.initech).toMatchObject({ slug: 'initech', memberCount: 2500 });

    const acme = emulator.store.listMemberships(demo.acme.organizationId);
    expect(acme.filter((m) => m.role === 'org:admin')).toHaveLength(2);
    expect(acme.filter((m) => m.role === 'org:member')).toHaveLength(6);
    const globex = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.globex.organizationId,
      limit: 1,
    });
    expect(globex.totalCount).toBe(500);
    const initech = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.initech.organizationId,
      limit: 1,
    });
    expect(initech.totalCount).toBe(2500);
  });

  it('the outsider belongs to no organization', async () => {
    for (const orgId of [demo.acme.organizationId, demo.globex.organizationId, demo.initech.organizationId]) {
      expect(emulator.store.listMemberships(orgId).some((m) => m.userId === demo.outsiderUserId)).toBe(false);
    }
    expect(emulator.store.getUser(demo.outsiderUserId)?.id).toBe(demo.outsiderUserId);
  });

  it('empty seed has no demo fixture and no organizations', async () => {
    const empty = await startClerkEmulator({ seed: 'empty', secretKey: 'sk_test_custom_key' });
    try {
      expect(empty.demo).toBeUndefined();
      expect(empty.secretKey).toBe('sk_test_custom_key');
      expect(empty.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const list = await sdkFor(empty).organizations.getOrganizationList();
      expect(list).toEqual({ data: [], totalCount: 0 });
      const wrong = await clerkError(sdkFor(empty, 'sk_test_emulator').organizations.getOrganizationList());
      expect(wrong.status).toBe(401);
    } finally {
      await empty.close();
    }
  });
});

describe('store', () => {
  it('store writes are visible through the API', async () => {
    const user = emulator.store.createUser({
      firstName: 'Stored',
      lastName: null,
      emailAddress: 'stored@example.test',
    });
    expect(user.id).toMatch(/^user_/);
    const org = emulator.store.createOrganization({ name: 'Stored Org', createdBy: user.id });
    expect(org.id).toMatch(/^org_/);
    expect(emulator.store.getOrganization(org.slug)?.id).toBe(org.id);
    expect(emulator.store.getOrganization(org.id)?.slug).toBe(org.slug);
    emulator.store.addMembership(org.id, user.id, 'org:admin');
    const populated = emulator.store.populate(org.id, 25);
    expect(populated).toHaveLength(25);
    expect(new Set(populated.map((m) => m.userId)).size).toBe(25);

    const list = await clerk.organizations.getOrganizationMembershipList({
      organizationId: org.id,
      limit: 100,
    });
    expect(list.totalCount).toBe(26);
    // populate adds members newest last, and the list is newest first.
    expect(list.data[0]?.id).toBe(populated.at(-1)?.id);
    const stored = list.data.find((m) => m.publicUserData?.userId === user.id);
    expect(stored?.role).toBe('org:admin');
    expect(stored?.publicUserData?.identifier).toBe('stored@example.test');
    expect(stored?.publicUserData?.lastName).toBeNull();
    const identifiers = list.data.map((m) => m.publicUserData?.identifier);
    expect(new Set(identifiers).size).toBe(26);
  });
});

describe('CLI', () => {
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGTERM');
  });

  it('starts on an ephemeral port, prints its URL, and serves the API', async () => {
    const root = fileURLToPath(new URL('../', import.meta.url));
    child = spawn(process.execPath, ['bin/clerk-emulator.js', '--port', '0', '--seed', 'empty'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = child;
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const match = /http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)/.exec(output);
        if (match && match[1] !== '0') resolve(match[0]);
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) =>
        reject(new Error(`CLI exited (${code}) before printing a URL:\n${output}`)),
      );
      proc.once('error', reject);
    });
    const res = await fetch(`${url}/v1/organizations`, {
      headers: { Authorization: 'Bearer sk_test_emulator' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: [], total_count: 0 });

    const exited = new Promise<unknown>((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
    expect(proc.exitCode !== null || proc.signalCode !== null).toBe(true);
  });
});
