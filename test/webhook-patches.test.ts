/**
 * Webhook changes patched into the cache from their payload, end to end: emulator writes through the Clerk SDK →
 * Svix-signed deliveries → our route → the next query, with zero Clerk reads. Deliveries are at-least-once and
 * unordered: the emulator sends to a relay of ours (below) that holds every delivery and forwards it, byte for
 * byte, in an order the test chooses, some of them twice and some re-signed under a new Svix ID (as a redelivery the
 * route's own deduplication cannot recognise). We synchronise on the emulator's "deliveries settled" and on the
 * route's answers, never on sleeps.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { Webhook } from 'svix';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/observability/logger.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, metricOf, startHarness } from './helpers/harness.js';

interface HeldDelivery {
  type: string;
  body: string;
  headers: Record<string, string>;
}

/** Where the emulator delivers: holds each delivery (answering 204 at once) until the test forwards it. */
interface Relay {
  url: string;
  held: HeldDelivery[];
  /** Forwards one held delivery to the server, as received or re-signed under a fresh Svix ID; returns the status. */
  forward(delivery: HeldDelivery, resign?: boolean): Promise<number>;
  close(): Promise<void>;
}

async function startRelay(h: Harness): Promise<Relay> {
  const held: HeldDelivery[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const pick = (headers: IncomingHttpHeaders, name: string) => String(headers[name] ?? '');
    held.push({
      type: (JSON.parse(body) as { type: string }).type,
      body,
      headers: Object.fromEntries(
        ['svix-id', 'svix-timestamp', 'svix-signature'].map((name) => [name, pick(request.headers, name)]),
      ),
    });
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    async forward(delivery, resign = false) {
      let headers = delivery.headers;
      if (resign) {
        const id = `msg_${randomBytes(12).toString('hex')}`;
        const date = new Date();
        headers = {
          'svix-id': id,
          'svix-timestamp': String(Math.floor(date.getTime() / 1000)),
          'svix-signature': new Webhook(h.webhookSecret).sign(id, date, delivery.body),
        };
      }
      const response = await fetch(`${h.url}/webhooks/clerk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: delivery.body,
      });
      await response.arrayBuffer();
      return response.status;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const TEAM = `query Team($id: ID!, $forceRefresh: Boolean) {
  organization(id: $id) {
    members(limit: 500, includePending: true, forceRefresh: $forceRefresh) {
      fromCache totalCount
      members { membershipId userId firstName lastName email imageUrl role createdAt }
      pendingInvitations { id email role status createdAt }
    }
  }
}`;
interface TeamView {
  fromCache: boolean;
  totalCount: number;
  members: Record<string, unknown>[];
  pendingInvitations: Record<string, unknown>[];
}

let h: Harness;
let relay: Relay;
/** The server's warnings and errors, as written. */
const logLines: string[] = [];
beforeAll(async () => {
  h = await startHarness({ logger: createLogger('warn', (line) => logLines.push(line)) });
  relay = await startRelay(h);
  // Every delivery goes through the relay, duplicated by the emulator and reordered within each write's burst.
  await fetch(`${h.emulator.url}/__emulator/webhooks/endpoints`, { method: 'DELETE' });
  h.emulator.control.addWebhookEndpoint({ url: `${relay.url}/`, secret: h.webhookSecret });
  h.emulator.control.setWebhookDelivery({ duplicate: true, reorder: true });
});
afterAll(async () => {
  await relay?.close();
  await h?.close();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Waits until the emulator has handed every delivery to the relay. */
const settled = () => h.emulator.control.webhooksSettled();

/** Forwards every held delivery (newest first: the most reordered), each once, and checks each was answered 2xx. */
async function flush() {
  await settled();
  const all = relay.held.splice(0).reverse();
  for (const delivery of all) expect(await relay.forward(delivery)).toBe(200);
}

interface Team {
  organizationId: string;
  adminUserId: string;
  token: string;
  /** Members at the start (not the admin). */
  memberIds: string[];
  /** A new token of anyone, with this organization active. */
  tokenFor(userId: string): string;
}

/** A team created behind the server's back (store writes send no webhooks). */
function team(name: string, members = 4): Team {
  const seeded = seedTeam(h.emulator, { name, members });
  return {
    organizationId: seeded.organizationId,
    adminUserId: seeded.admin.userId,
    token: seeded.admin.token,
    memberIds: seeded.memberIds,
    tokenFor: (userId) => seeded.tokenFor(userId),
  };
}

async function teamView(t: Team, forceRefresh = false, token = t.token): Promise<TeamView> {
  const result = await h.query<{ organization: { members: TeamView } }, Record<string, unknown>>(TEAM, {
    token,
    variables: { id: t.organizationId, forceRefresh },
  });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data?.organization.members as TeamView;
}

/** A fresh read of Clerk through the SDK, in the query's shape (clerk-source's mapping, written out). */
async function clerkView(organizationId: string) {
  const members = await h.clerk.organizations.getOrganizationMembershipList({ organizationId, limit: 500 });
  const invitations = await h.clerk.organizations.getOrganizationInvitationList({
    organizationId,
    status: ['pending'],
    limit: 500,
  });
  return {
    totalCount: members.totalCount,
    members: members.data.map((m) => ({
      membershipId: m.id,
      userId: m.publicUserData?.userId,
      firstName: m.publicUserData?.firstName || null,
      lastName: m.publicUserData?.lastName || null,
      email: m.publicUserData?.identifier || null,
      imageUrl: m.publicUserData?.imageUrl || null,
      role: m.role,
      createdAt: new Date(m.createdAt).toISOString(),
    })),
    pendingInvitations: invitations.data.map((i) => ({
      id: i.id,
      email: i.emailAddress,
      role: i.role,
      status: i.status,
      createdAt: new Date(i.createdAt).toISOString(),
    })),
  };
}

/** The server's Clerk reads of this organization's roster and invitations so far. */
const fullReads = (organizationId: string) =>
  h.emulator.control
    .requestLog()
    .filter(
      (entry) =>
        entry.method === 'GET' &&
        (entry.path === `/v1/organizations/${organizationId}/memberships` ||
          entry.path === `/v1/organizations/${organizationId}/invitations`),
    ).length;

const metric = (name: string) => metricOf(h.adminUrl, name);

/** Warms roster and invitations, and checks the next answer is a cache hit. */
async function warm(t: Team) {
  await teamView(t);
  expect((await teamView(t)).fromCache).toBe(true);
}

// ---- the writes a sequence is made of ----

type Op =
  | { kind: 'add' | 'remove' | 'role'; user: number }
  | { kind: 'profile'; user: number; name: string }
  | { kind: 'invite' }
  | { kind: 'revoke' | 'accept'; invitation: number }
  /** Forwards some held deliveries now (the rest stay delayed): by index, maybe re-signed, maybe kept for later. */
  | { kind: 'deliver'; picks: { index: number; resign: boolean; keep: boolean }[] };

const userOp = (kind: 'add' | 'remove' | 'role') => fc.record({ kind: fc.constant(kind), user: fc.nat(5) });
/** Weighted toward membership writes: adds, removals and re-adds of the same users are where order matters most. */
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: userOp('add'), weight: 3 },
  { arbitrary: userOp('remove'), weight: 3 },
  { arbitrary: userOp('role'), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('profile' as const),
      user: fc.nat(5),
      name: fc.constantFrom('Ana', 'Émile', 'Zoë'),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('invite' as const) }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constantFrom('revoke' as const, 'accept' as const),
      invitation: fc.nat(3),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      picks: fc.array(fc.record({ index: fc.nat(), resign: fc.boolean(), keep: fc.boolean() }), {
        maxLength: 4,
      }),
    }),
    weight: 2,
  },
);

/**
 * Applies one write through the Clerk SDK (webhooks and all), when it makes sense in Clerk's current state.
 * `pending`: the IDs of the invitations this sequence created that are still pending.
 */
async function perform(t: Team, pool: string[], pending: string[], op: Op) {
  const { organizationId } = t;
  const membershipOf = (userId: string) =>
    h.emulator.store.listMemberships(organizationId).find((membership) => membership.userId === userId);
  switch (op.kind) {
    case 'add': {
      const userId = pool[op.user % pool.length] as string;
      if (membershipOf(userId)) return;
      await h.clerk.organizations.createOrganizationMembership({
        organizationId,
        userId,
        role: 'org:member',
      });
      break;
    }
    case 'remove': {
      const userId = pool[op.user % pool.length] as string;
      if (!membershipOf(userId)) return;
      await h.clerk.organizations.deleteOrganizationMembership({ organizationId, userId });
      break;
    }
    case 'role': {
      const userId = pool[op.user % pool.length] as string;
      const membership = membershipOf(userId);
      if (!membership) return;
      const role = membership.role === 'org:admin' ? 'org:member' : 'org:admin';
      await h.clerk.organizations.updateOrganizationMembership({ organizationId, userId, role });
      break;
    }
    case 'profile':
      await h.clerk.users.updateUser(pool[op.user % pool.length] as string, {
        firstName: `${op.name} ${randomBytes(2).toString('hex')}`,
      });
      break;
    case 'invite': {
      const invitation = await h.clerk.organizations.createOrganizationInvitation({
        organizationId,
        emailAddress: `invitee.${randomBytes(4).toString('hex')}@patches.test`,
        role: 'org:member',
        inviterUserId: t.adminUserId,
      });
      pending.push(invitation.id);
      break;
    }
    case 'revoke': {
      const [invitationId] = pending.splice(op.invitation % Math.max(1, pending.length), 1);
      if (!invitationId) return;
      await h.clerk.organizations.revokeOrganizationInvitation({
        organizationId,
        invitationId,
        requestingUserId: t.adminUserId,
      });
      break;
    }
    case 'accept': {
      const [invitationId] = pending.splice(op.invitation % Math.max(1, pending.length), 1);
      if (!invitationId) return;
      await h.emulator.control.acceptInvitation(invitationId);
      break;
    }
    case 'deliver':
      await settled();
      for (const pick of op.picks) {
        if (relay.held.length === 0) break;
        const index = pick.index % relay.held.length;
        const delivery = relay.held[index] as HeldDelivery;
        if (!pick.keep) relay.held.splice(index, 1);
        expect(await relay.forward(delivery, pick.resign)).toBe(200);
      }
      return;
  }
  await settled();
}

describe('patched from the webhook, converging on Clerk', () => {
  it('random writes, deliveries duplicated, delayed and reordered: the cached answer equals a fresh Clerk read, with zero roster or invitation reads and zero drift', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 24 }), async (ops) => {
        await flush(); // nothing left over from an earlier run
        const t = team('Convergence Co');
        // The pool: four members at the start and two users who are not (added, removed, re-added at random).
        const outsiders = [0, 1].map(
          (n) =>
            h.emulator.store.createUser({
              firstName: `Out${n}`,
              lastName: 'Sider',
              emailAddress: `out${n}.${randomBytes(4).toString('hex')}@patches.test`,
            }).id,
        );
        const pool = [...t.memberIds, ...outsiders];
        await warm(t);
        const readsAfterWarmUp = fullReads(t.organizationId);
        const driftBefore = await metric('team_cache_drift_total');

        const pending: string[] = [];
        for (const op of ops) await perform(t, pool, pending, op);
        await flush();

        const cached = await teamView(t);
        expect(fullReads(t.organizationId)).toBe(readsAfterWarmUp);
        expect(cached.fromCache).toBe(true);
        const { fromCache: _, ...answer } = cached;
        expect(answer).toEqual(await clerkView(t.organizationId));
        // A forced full read compares itself with the patched copy: no difference.
        await teamView(t, true);
        expect(await metric('team_cache_drift_total')).toBe(driftBefore);
      }),
      { numRuns: 25 },
    );
  });
});

describe('deliveries out of order', () => {
  it('a late organizationMembership.created after the deleted of the same membership does not bring the member back, and they stay refused', async () => {
    await flush(); // nothing held from another test
    const t = team('Late Co');
    const leaver = t.memberIds[0] as string;
    const leaverToken = t.tokenFor(leaver);
    // A new membership whose created is held back while its deleted goes through.
    await warm(t);
    const user = h.emulator.store.createUser({
      emailAddress: `late.${randomBytes(3).toString('hex')}@late.test`,
    });
    const lateToken = t.tokenFor(user.id);
    await h.clerk.organizations.createOrganizationMembership({
      organizationId: t.organizationId,
      userId: user.id,
      role: 'org:member',
    });
    await h.clerk.organizations.deleteOrganizationMembership({
      organizationId: t.organizationId,
      userId: user.id,
    });
    await h.clerk.organizations.deleteOrganizationMembership({
      organizationId: t.organizationId,
      userId: leaver,
    });
    await settled();
    const reads = fullReads(t.organizationId);
    const created = relay.held.filter((delivery) => delivery.type === 'organizationMembership.created');
    const rest = relay.held.filter((delivery) => delivery.type !== 'organizationMembership.created');
    relay.held.length = 0;
    for (const delivery of rest) expect(await relay.forward(delivery)).toBe(200);
    // The late created, twice: as Svix retries it (same ID) and as a redelivery under a new ID.
    for (const delivery of created) {
      expect(await relay.forward(delivery)).toBe(200);
      expect(await relay.forward(delivery, true)).toBe(200);
    }

    const view = await teamView(t);
    expect(view.fromCache).toBe(true);
    const userIds = view.members.map((member) => member.userId);
    expect(userIds).not.toContain(user.id);
    expect(userIds).not.toContain(leaver);
    expect(fullReads(t.organizationId)).toBe(reads);
    for (const token of [lateToken, leaverToken]) {
      const refused = await h.query(TEAM, { token, variables: { id: t.organizationId } });
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('an older organizationMembership.updated, and a duplicate under a new Svix ID, are ignored', async () => {
    await flush(); // nothing held from another test
    const t = team('Older Co');
    const userId = t.memberIds[0] as string;
    await warm(t);
    for (const role of ['org:admin', 'org:member', 'org:admin']) {
      await h.clerk.organizations.updateOrganizationMembership({
        organizationId: t.organizationId,
        userId,
        role,
      });
    }
    await settled();
    const reads = fullReads(t.organizationId);
    // Each update twice (the emulator duplicates): newest first, then the older ones, then the newest again.
    const updates = relay.held.splice(0);
    const [first, second, third] = [0, 2, 4].map((i) => updates[i]) as [
      HeldDelivery,
      HeldDelivery,
      HeldDelivery,
    ];
    for (const delivery of [third, second, first]) expect(await relay.forward(delivery)).toBe(200);
    expect(await relay.forward(third, true)).toBe(200);
    expect(await relay.forward(second, true)).toBe(200);

    const view = await teamView(t);
    expect(view.members.find((member) => member.userId === userId)?.role).toBe('org:admin');
    expect(fullReads(t.organizationId)).toBe(reads);
    const { fromCache: _, ...answer } = view;
    expect(answer).toEqual(await clerkView(t.organizationId));
  });

  it('an older user.updated after a newer one is ignored', async () => {
    await flush(); // nothing held from another test
    const t = team('Renamed Co');
    const userId = t.memberIds[1] as string;
    await warm(t);
    await h.clerk.users.updateUser(userId, { firstName: 'First' });
    await h.clerk.users.updateUser(userId, { firstName: 'Second' });
    await settled();
    const [older, , newer] = relay.held.splice(0);
    for (const delivery of [newer, older] as HeldDelivery[]) expect(await relay.forward(delivery)).toBe(200);
    const view = await teamView(t);
    expect(view.fromCache).toBe(true);
    expect(view.members.find((member) => member.userId === userId)?.firstName).toBe('Second');
  });
});

describe('a user.updated that arrives before the membership', () => {
  it('still wins over the older profile the late organizationMembership.created carries', async () => {
    await flush(); // nothing held from another test
    const t = team('Early Rename Co');
    await warm(t);
    const user = h.emulator.store.createUser({
      firstName: 'Before',
      emailAddress: `early.${randomBytes(3).toString('hex')}@rename.test`,
    });
    await h.clerk.organizations.createOrganizationMembership({
      organizationId: t.organizationId,
      userId: user.id,
      role: 'org:member',
    });
    await h.clerk.users.updateUser(user.id, { firstName: 'After' });
    await settled();
    const held = relay.held.splice(0);
    const renamed = held.filter((delivery) => delivery.type === 'user.updated');
    const joined = held.filter((delivery) => delivery.type === 'organizationMembership.created');
    for (const delivery of [...renamed, ...joined]) expect(await relay.forward(delivery)).toBe(200);
    const view = await teamView(t);
    expect(view.fromCache).toBe(true);
    expect(view.members.find((member) => member.userId === user.id)?.firstName).toBe('After');
  });
});

describe('what a payload cannot express', () => {
  it('a signed but partial membership payload falls back to invalidation: the next query reads Clerk', async () => {
    const t = team('Partial Co');
    const userId = t.memberIds[0] as string;
    await warm(t);
    const reads = fullReads(t.organizationId);
    // A delivery that lacks the member's public data fields and the dates: it cannot say what the roster holds.
    const membership = h.emulator.store.listMemberships(t.organizationId).find((m) => m.userId === userId);
    const body = JSON.stringify({
      object: 'event',
      type: 'organizationMembership.updated',
      data: {
        object: 'organization_membership',
        id: membership?.id,
        role: 'org:admin',
        organization: { id: t.organizationId },
        public_user_data: { user_id: userId },
      },
    });
    const id = `msg_${randomBytes(12).toString('hex')}`;
    const date = new Date();
    const status = await relay.forward({
      type: 'organizationMembership.updated',
      body,
      headers: {
        'svix-id': id,
        'svix-timestamp': String(Math.floor(date.getTime() / 1000)),
        'svix-signature': new Webhook(h.webhookSecret).sign(id, date, body),
      },
    });
    expect(status).toBe(200);
    const view = await teamView(t);
    expect(view.fromCache).toBe(false);
    expect(fullReads(t.organizationId)).toBeGreaterThan(reads);
  });
});

describe('drift', () => {
  it('a change Clerk made without a webhook shows at the TTL re-read of a patched roster, counted in team_cache_drift_total', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = team('Drift Co');
    await warm(t);
    // Patched: a role change through Clerk, its webhook delivered.
    await h.clerk.organizations.updateOrganizationMembership({
      organizationId: t.organizationId,
      userId: t.memberIds[0] as string,
      role: 'org:admin',
    });
    await flush();
    expect((await teamView(t)).fromCache).toBe(true);
    // A member added in Clerk whose webhook never comes (a store write sends none).
    const user = h.emulator.store.createUser({
      emailAddress: `silent.${randomBytes(3).toString('hex')}@drift.test`,
    });
    h.emulator.store.addMembership(t.organizationId, user.id, 'org:member');
    const before = await metric('team_cache_drift_total');

    vi.setSystemTime(Date.now() + 301_000); // past the harness's 300-second TTL
    const reread = await teamView(t);
    expect(reread.fromCache).toBe(false);
    expect(reread.members.map((member) => member.userId)).toContain(user.id);
    expect(await metric('team_cache_drift_total')).toBe(before + 1);
    // Logged as a warning: the organization and the membership missing from the patched copy, never an email.
    const membershipId = reread.members.find((member) => member.userId === user.id)?.membershipId as string;
    const lines = logLines.filter((line) => line.includes(t.organizationId) && line.includes('drift'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: 'warn',
      kind: 'members',
      organizationId: t.organizationId,
      missing: [membershipId],
    });
    expect(lines[0]).not.toContain('@');
  });

  it('the TTL re-read of a patched roster that matches Clerk counts no drift', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = team('No Drift Co');
    await warm(t);
    await h.clerk.organizations.deleteOrganizationMembership({
      organizationId: t.organizationId,
      userId: t.memberIds[0] as string,
    });
    await flush();
    const before = await metric('team_cache_drift_total');
    vi.setSystemTime(Date.now() + 301_000);
    expect((await teamView(t)).fromCache).toBe(false);
    expect(await metric('team_cache_drift_total')).toBe(before);
  });
});
