/**
 * Clerk webhooks end to end: an SDK write to the emulator → a Svix-signed webhook → our /webhooks/clerk route →
 * the next query shows the change. Negative cases are signed (or mis-signed) by hand. We synchronize on events
 * (the emulator's "deliveries settled", request-log entries, a Clerk answer held and released), never on sleeps.
 */
import { randomBytes } from 'node:crypto';
import type { ClerkClient } from '@clerk/backend';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, postSignedWebhook, startHarness } from './helpers/harness.js';

interface MemberView {
  userId: string;
  firstName: string | null;
  lastName: string | null;
  role: string;
}
interface TeamView {
  fromCache: boolean;
  cachedAt: string;
  totalCount: number;
  members: MemberView[];
  pendingInvitations: { id: string; email: string; role: string }[] | null;
}
interface TeamData {
  organization: { members: TeamView };
}

const TEAM_QUERY = `query Team($id: ID!, $includePending: Boolean) {
  organization(id: $id) {
    members(limit: 500, includePending: $includePending) {
      fromCache cachedAt totalCount
      members { userId firstName lastName role }
      pendingInvitations { id email role }
    }
  }
}`;

/** A team in the emulator, created behind the server's back (store writes emit no webhooks). */
interface Team {
  organizationId: string;
  adminUserId: string;
  memberUserIds: string[];
  /** A session token of the admin with this organization active (v2 claims). */
  token: string;
}

async function teamOf(h: Harness, team: Team, includePending = false): Promise<TeamView> {
  const result = await h.query<TeamData, { id: string; includePending: boolean }>(TEAM_QUERY, {
    token: team.token,
    variables: { id: team.organizationId, includePending },
  });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  const view = result.data?.organization.members;
  if (!view) throw new Error(`no team data: ${JSON.stringify(result)}`);
  return view;
}

/** An admin and `members - 1` members. */
function createTeam(h: Harness, name: string, members = 3): Team {
  const team = seedTeam(h.emulator, {
    name,
    members: members - 1,
    tokens: { claimsVersion: 2, expiresInS: 600 },
  });
  return {
    organizationId: team.organizationId,
    adminUserId: team.admin.userId,
    memberUserIds: team.memberIds,
    token: team.admin.token,
  };
}

/** Queries until the answer is a cache hit, asserting that it is: the cache now holds this organization. */
async function warm(h: Harness, team: Team, includePending = false): Promise<TeamView> {
  await teamOf(h, team, includePending);
  const cached = await teamOf(h, team, includePending);
  expect(cached.fromCache).toBe(true);
  return cached;
}

/** What Clerk holds for the organization right now, in the shape the query returns. */
function clerkMembers(h: Harness, organizationId: string) {
  return h.emulator.store
    .listMemberships(organizationId)
    .map((membership) => {
      const user = h.emulator.store.getUser(membership.userId);
      return {
        userId: membership.userId,
        firstName: user?.firstName ?? null,
        lastName: user?.lastName ?? null,
        role: membership.role,
      };
    })
    .sort((a, b) => a.userId.localeCompare(b.userId));
}
const sortedMembers = (view: TeamView) => [...view.members].sort((a, b) => a.userId.localeCompare(b.userId));

/** Emulator requests that read this organization's memberships. */
const membershipReads = (h: Harness, organizationId: string) =>
  h.emulator.control
    .requestLog()
    .filter((entry) => entry.path === `/v1/organizations/${organizationId}/memberships`).length;

const msgId = () => `msg_${randomBytes(12).toString('hex')}`;

interface Delivery {
  body: string;
  id?: string;
  /** Signing secret; default the server's. */
  secret?: string;
  /** Signature timestamp; default now. */
  date?: Date;
  /** Sent instead of `body`, signed as `body` (tampering). */
  sentBody?: string;
}

/** POSTs a hand-signed delivery to the server's webhook route, as Svix would. */
async function deliver(h: Harness, delivery: Delivery) {
  const id = delivery.id ?? msgId();
  const response = await postSignedWebhook(h.url, delivery.body, {
    ...delivery,
    id,
    secret: delivery.secret ?? h.webhookSecret,
  });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, id };
}

/** A Clerk envelope around a membership event for this organization. */
const membershipEvent = (organizationId: string, userId: string, type = 'organizationMembership.updated') =>
  JSON.stringify({
    object: 'event',
    type,
    timestamp: Date.now(),
    instance_id: 'ins_test',
    data: {
      object: 'organization_membership',
      id: `orgmem_${randomBytes(6).toString('hex')}`,
      role: 'org:member',
      organization: { object: 'organization', id: organizationId },
      public_user_data: { user_id: userId },
    },
  });

let h: Harness;
let clerk: ClerkClient;
beforeAll(async () => {
  // Clerk's answers pass through a gate, so a test can hold one on its way back to the server.
  h = await startHarness({ gateClerk: true });
  clerk = h.clerk;
});
afterAll(() => h?.close());

describe('every Clerk event reaches the next query', () => {
  it('organizationMembership.created: an added member shows up', async () => {
    const team = createTeam(h, 'Added Co');
    const before = await warm(h, team);
    const user = h.emulator.store.createUser({
      firstName: 'Nadia',
      lastName: 'Newcomer',
      emailAddress: 'nadia@added.test',
    });

    await clerk.organizations.createOrganizationMembership({
      organizationId: team.organizationId,
      userId: user.id,
      role: 'org:member',
    });
    await h.emulator.control.webhooksSettled();

    const after = await teamOf(h, team);
    expect(after.totalCount).toBe(before.totalCount + 1);
    expect(after.members).toContainEqual({
      userId: user.id,
      firstName: 'Nadia',
      lastName: 'Newcomer',
      role: 'org:member',
    });
  });

  it('organizationMembership.updated: a changed role shows up', async () => {
    const team = createTeam(h, 'Promoted Co');
    const userId = team.memberUserIds[0] as string;
    const before = await warm(h, team);
    expect(before.members.find((member) => member.userId === userId)?.role).toBe('org:member');

    await clerk.organizations.updateOrganizationMembership({
      organizationId: team.organizationId,
      userId,
      role: 'org:admin',
    });
    await h.emulator.control.webhooksSettled();

    const after = await teamOf(h, team);
    expect(after.members.find((member) => member.userId === userId)?.role).toBe('org:admin');
  });

  it('organizationMembership.deleted: a removed member disappears', async () => {
    const team = createTeam(h, 'Removed Co');
    const userId = team.memberUserIds[1] as string;
    const before = await warm(h, team);
    expect(before.members.map((member) => member.userId)).toContain(userId);

    await clerk.organizations.deleteOrganizationMembership({ organizationId: team.organizationId, userId });
    await h.emulator.control.webhooksSettled();

    const after = await teamOf(h, team);
    expect(after.totalCount).toBe(before.totalCount - 1);
    expect(after.members.map((member) => member.userId)).not.toContain(userId);
  });

  it('organizationInvitation.created: a new invitation is pending', async () => {
    const team = createTeam(h, 'Inviting Co');
    const before = await warm(h, team, true);
    expect(before.pendingInvitations).toEqual([]);

    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: team.organizationId,
      emailAddress: 'invitee@inviting.test',
      role: 'org:member',
      inviterUserId: team.adminUserId,
    });
    await h.emulator.control.webhooksSettled();

    const after = await teamOf(h, team, true);
    expect(after.pendingInvitations).toEqual([
      { id: invitation.id, email: 'invitee@inviting.test', role: 'org:member' },
    ]);
  });

  it('organizationInvitation.accepted: the invitation leaves the pending list and its user joins', async () => {
    const team = createTeam(h, 'Accepting Co');
    const invitation = h.emulator.store.addInvitation(team.organizationId, {
      emailAddress: 'joiner@accepting.test',
      role: 'org:member',
    });
    const before = await warm(h, team, true);
    expect(before.pendingInvitations?.map((pending) => pending.id)).toEqual([invitation.id]);

    const { userId } = await h.emulator.control.acceptInvitation(invitation.id);
    await h.emulator.control.webhooksSettled();

    const after = await teamOf(h, team, true);
    expect(after.pendingInvitations).toEqual([]);
    expect(after.totalCount).toBe(before.totalCount + 1);
    expect(after.members.map((member) => member.userId)).toContain(userId);
  });

  it('organizationInvitation.revoked: a revoked invitation is no longer pending', async () => {
    const team = createTeam(h, 'Revoking Co');
    const invitation = h.emulator.store.addInvitation(team.organizationId, {
      emailAddress: 'not.anymore@revoking.test',
    });
    const before = await warm(h, team, true);
    expect(before.pendingInvitations?.map((pending) => pending.id)).toEqual([invitation.id]);

    await clerk.organizations.revokeOrganizationInvitation({
      organizationId: team.organizationId,
      invitationId: invitation.id,
      requestingUserId: team.adminUserId,
    });
    await h.emulator.control.webhooksSettled();

    expect((await teamOf(h, team, true)).pendingInvitations).toEqual([]);
  });

  it('user.updated: a renamed user is renamed in every organization they belong to', async () => {
    const first = createTeam(h, 'First Co');
    const second = createTeam(h, 'Second Co');
    const user = h.emulator.store.createUser({
      firstName: 'Old',
      lastName: 'Name',
      emailAddress: 'both@orgs.test',
    });
    h.emulator.store.addMembership(first.organizationId, user.id, 'org:member');
    h.emulator.store.addMembership(second.organizationId, user.id, 'org:member');
    for (const team of [first, second]) {
      const cached = await warm(h, team);
      expect(cached.members.find((member) => member.userId === user.id)?.firstName).toBe('Old');
    }

    await clerk.users.updateUser(user.id, { firstName: 'New', lastName: 'Surname' });
    await h.emulator.control.webhooksSettled();

    for (const team of [first, second]) {
      const renamed = (await teamOf(h, team)).members.find((member) => member.userId === user.id);
      expect(renamed).toMatchObject({ firstName: 'New', lastName: 'Surname' });
    }
  });

  it('organization.deleted: the organization answers FORBIDDEN, even to a token with it active', async () => {
    const team = createTeam(h, 'Doomed Co');
    await warm(h, team);

    await clerk.organizations.deleteOrganization(team.organizationId);
    await h.emulator.control.webhooksSettled();

    const result = await h.query<TeamData, { id: string }>(TEAM_QUERY, {
      token: team.token,
      variables: { id: team.organizationId },
    });
    expect(result.data).toBeNull();
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});

describe('deliveries that must not change anything', () => {
  let team: Team;
  beforeAll(async () => {
    team = createTeam(h, 'Guarded Co');
    await warm(h, team);
  });

  /** The cache still holds the organization and Clerk was not read again. */
  async function expectCacheUntouched(readsBefore: number) {
    expect((await teamOf(h, team)).fromCache).toBe(true);
    expect(membershipReads(h, team.organizationId)).toBe(readsBefore);
  }

  it('tampered body → 400, cache unchanged', async () => {
    const reads = membershipReads(h, team.organizationId);
    const body = membershipEvent(team.organizationId, team.adminUserId);
    const tampered = body.replace('org:member', 'org:admin');
    expect(tampered).not.toBe(body);
    const response = await deliver(h, { body, sentBody: tampered });
    expect(response.status).toBe(400);
    await expectCacheUntouched(reads);
  });

  it('signed with another secret → 400, cache unchanged', async () => {
    const reads = membershipReads(h, team.organizationId);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const response = await deliver(h, {
      body: membershipEvent(team.organizationId, team.adminUserId),
      secret,
    });
    expect(response.status).toBe(400);
    await expectCacheUntouched(reads);
  });

  it('timestamp 10 minutes old → 400, cache unchanged', async () => {
    const reads = membershipReads(h, team.organizationId);
    const response = await deliver(h, {
      body: membershipEvent(team.organizationId, team.adminUserId),
      date: new Date(Date.now() - 10 * 60 * 1000),
    });
    expect(response.status).toBe(400);
    await expectCacheUntouched(reads);
  });

  it('no signature headers at all → 400', async () => {
    const response = await fetch(`${h.url}/webhooks/clerk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: membershipEvent(team.organizationId, team.adminUserId),
    });
    expect(response.status).toBe(400);
    await expectCacheUntouched(membershipReads(h, team.organizationId));
  });

  it('body over 1 MiB → 413', async () => {
    const body = JSON.stringify({
      type: 'user.updated',
      data: { id: 'user_x', padding: 'x'.repeat(1024 * 1024) },
    });
    // Signed: a delivery without plausible Svix headers is refused (400) before its size is looked at.
    const response = await postSignedWebhook(h.url, body, { secret: h.webhookSecret }).catch(
      (error: unknown) => {
        throw new Error(`the server should answer 413 before closing: ${String(error)}`);
      },
    );
    expect(response.status).toBe(413);
    await response.arrayBuffer();
  });

  it('GET → 405 with Allow: POST', async () => {
    const response = await fetch(`${h.url}/webhooks/clerk`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    await response.arrayBuffer();
  });

  it('valid signature over a body that is not JSON → 400', async () => {
    const reads = membershipReads(h, team.organizationId);
    const response = await deliver(h, { body: 'this is { not json' });
    expect(response.status).toBe(400);
    expect(response.json?.error).toMatch(/JSON/);
    await expectCacheUntouched(reads);
  });

  it('unknown event type → 2xx, ignored and counted', async () => {
    const reads = membershipReads(h, team.organizationId);
    const key = 'spaceship.launched ignored';
    const counted = h.app.webhooks.outcomes().get(key) ?? 0;
    const body = JSON.stringify({
      object: 'event',
      type: 'spaceship.launched',
      data: { id: team.organizationId },
    });
    const response = await deliver(h, { body });
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    expect(response.json).toEqual({ status: 'ignored' });
    expect(h.app.webhooks.outcomes().get(key)).toBe(counted + 1);
    await expectCacheUntouched(reads);
  });

  it('a replayed svix-id → 200 duplicate, and is not processed again', async () => {
    const body = membershipEvent(team.organizationId, team.adminUserId);
    const id = msgId();
    const first = await deliver(h, { body, id });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ status: 'processed' });
    // The first delivery invalidated the organization; the next queries read it again and cache it.
    await teamOf(h, team);
    const reads = membershipReads(h, team.organizationId);
    expect((await teamOf(h, team)).fromCache).toBe(true);

    // Svix retries a message with the same svix-id and a fresh signature.
    const key = 'organizationMembership.updated duplicate';
    const duplicatesBefore = h.app.webhooks.outcomes().get(key) ?? 0;
    const replay = await deliver(h, { body, id });
    expect(replay.status).toBe(200);
    expect(replay.json).toEqual({ status: 'duplicate' });
    expect(h.app.webhooks.outcomes().get(key)).toBe(duplicatesBefore + 1);
    await expectCacheUntouched(reads);
  });
});

describe('duplicated and reordered deliveries never leave older data cached', () => {
  afterAll(() => h.emulator.control.setWebhookDelivery({}));

  /** After settling, every answer (the first and the cached one after it) is what Clerk holds. */
  async function expectFinalState(team: Team) {
    for (let i = 0; i < 2; i++) {
      const view = await teamOf(h, team, true);
      expect(sortedMembers(view)).toEqual(clerkMembers(h, team.organizationId));
      expect(view.totalCount).toBe(h.emulator.store.listMemberships(team.organizationId).length);
    }
    expect((await teamOf(h, team, true)).fromCache).toBe(true);
  }

  it('duplicate deliveries of several writes', async () => {
    const team = createTeam(h, 'Twice Co', 4);
    await warm(h, team, true);
    h.emulator.control.setWebhookDelivery({ duplicate: true });
    const [a, b] = team.memberUserIds as [string, string];
    const organizationId = team.organizationId;
    await clerk.organizations.updateOrganizationMembership({ organizationId, userId: a, role: 'org:admin' });
    await clerk.organizations.updateOrganizationMembership({ organizationId, userId: a, role: 'org:member' });
    await clerk.organizations.updateOrganizationMembership({ organizationId, userId: a, role: 'org:admin' });
    await clerk.organizations.deleteOrganizationMembership({ organizationId, userId: b });
    const user = h.emulator.store.createUser({
      firstName: 'Dup',
      lastName: 'Licate',
      emailAddress: 'dup@twice.test',
    });
    await clerk.organizations.createOrganizationMembership({
      organizationId,
      userId: user.id,
      role: 'org:member',
    });
    await clerk.users.updateUser(user.id, { firstName: 'Final' });
    await h.emulator.control.webhooksSettled();

    const deliveries = h.emulator.control.deliveries().filter((attempt) => attempt.url.startsWith(h.url));
    const perMessage = new Map<string, number>();
    for (const attempt of deliveries) perMessage.set(attempt.msgId, (perMessage.get(attempt.msgId) ?? 0) + 1);
    expect([...perMessage.values()].some((count) => count >= 2)).toBe(true);

    await expectFinalState(team);
    const view = await teamOf(h, team, true);
    expect(view.members.find((member) => member.userId === a)?.role).toBe('org:admin');
    expect(view.members.find((member) => member.userId === user.id)?.firstName).toBe('Final');
  });

  it('reordered (and duplicated) bursts: accepted invitations and a deleted user', async () => {
    const team = createTeam(h, 'Backwards Co', 4);
    const invitation = h.emulator.store.addInvitation(team.organizationId, {
      emailAddress: 'late@backwards.test',
    });
    await warm(h, team, true);
    h.emulator.control.setWebhookDelivery({ reorder: true, duplicate: true });

    // Each of these writes emits a burst of several events, delivered in reverse order.
    await h.emulator.control.acceptInvitation(invitation.id);
    await clerk.users.deleteUser(team.memberUserIds[0] as string);
    await clerk.organizations.updateOrganizationMembership({
      organizationId: team.organizationId,
      userId: team.memberUserIds[1] as string,
      role: 'org:admin',
    });
    await h.emulator.control.webhooksSettled();

    await expectFinalState(team);
    expect((await teamOf(h, team, true)).pendingInvitations).toEqual([]);
  });
});

describe('invalidation during a slow in-flight fetch', () => {
  it('the read in flight is not cached over the invalidation; the next query sees the new data', async () => {
    // 600 members: the server reads page one (offset 0), then page two (offset 500).
    const team = createTeam(h, 'Inflight Co', 600);
    const path = `/v1/organizations/${team.organizationId}/memberships`;
    // Page two is answered from the data before the change, and held on its way back to the server.
    const held = h.gate?.hold((requested, query) => requested === path && query.get('offset') === '500');
    if (!held) throw new Error('the harness gates Clerk');

    const inFlight = teamOf(h, team); // cold: reads Clerk
    try {
      await held.answered;
      // While the read is under way, change Clerk and announce it with a signed webhook.
      const newcomer = h.emulator.store.createUser({
        firstName: 'Late',
        lastName: 'Arrival',
        emailAddress: 'late@inflight.test',
      });
      h.emulator.store.addMembership(team.organizationId, newcomer.id, 'org:member');
      const announced = await deliver(h, {
        body: membershipEvent(team.organizationId, newcomer.id, 'organizationMembership.created'),
      });
      expect(announced.json).toEqual({ status: 'processed' });
    } finally {
      held.release();
    }

    // The callers who asked first get the read they started (precondition: it predates the change)...
    const old = await inFlight;
    expect(old.fromCache).toBe(false);
    expect(old.totalCount).toBe(600);

    // ...but it was not stored: the next query reads Clerk again and sees the newcomer (newest first).
    const next = await teamOf(h, team);
    expect(next.fromCache).toBe(false);
    expect(next.totalCount).toBe(601);
    expect(next.members[0]).toMatchObject({ firstName: 'Late', lastName: 'Arrival' });
  });
});

describe('refresh-ahead', () => {
  // One burst is events less than a debounce period apart. 20 concurrent deliveries take a few ms; a whole second
  // leaves room for a loaded machine stalling this process between two of them.
  const debounceMs = 1000;
  let r: Harness;
  beforeAll(async () => {
    r = await startHarness({ emulator: { seed: 'empty' }, config: { webhookRefreshDebounceMs: debounceMs } });
  });
  afterAll(() => r?.close());

  it('20 events for one cached organization cost exactly one background re-read, and the next query is a fresh hit', async () => {
    const team = createTeam(r, 'Bursty Co', 5);
    const marker = createTeam(r, 'Marker Co', 2);
    await warm(r, team);
    await warm(r, marker);
    const readsBefore = membershipReads(r, team.organizationId);
    const markerReadsBefore = membershipReads(r, marker.organizationId);
    // Clerk changes behind our back, then announces it 20 times (a burst of membership updates).
    const newcomer = r.emulator.store.createUser({
      firstName: 'Fresh',
      lastName: 'Face',
      emailAddress: 'fresh@bursty.test',
    });
    r.emulator.store.addMembership(team.organizationId, newcomer.id, 'org:member');

    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        deliver(r, { body: membershipEvent(team.organizationId, newcomer.id) }),
      ),
    );
    expect(responses.map((response) => response.json?.status)).toEqual(Array(20).fill('processed'));
    expect(new Set(responses.map((response) => response.id)).size).toBe(20);

    // Then one event for another cached organization. Its re-read is scheduled after every one the burst scheduled,
    // with the same delay, and timers of one delay fire in the order they were set: once it has been read and no
    // read is under way, every re-read the burst caused is in Clerk's request log. No waiting for an absence.
    await deliver(r, { body: membershipEvent(marker.organizationId, marker.adminUserId) });
    await vi.waitFor(
      () => {
        expect(membershipReads(r, marker.organizationId)).toBe(markerReadsBefore + 1);
        expect(r.app.cache.stats().inFlight).toBe(0);
      },
      { timeout: 10_000, interval: 10 },
    );
    expect(membershipReads(r, team.organizationId)).toBe(readsBefore + 1);

    const next = await teamOf(r, team);
    expect(next.fromCache).toBe(true);
    expect(next.totalCount).toBe(6);
    expect(next.members.map((member) => member.userId)).toContain(newcomer.id);
    expect(membershipReads(r, team.organizationId)).toBe(readsBefore + 1);
  });
});

describe('no signing secret configured', () => {
  let bare: Harness;
  beforeAll(async () => {
    bare = await startHarness({
      emulator: { seed: 'empty' },
      config: { clerkWebhookSigningSecret: undefined },
    });
  });
  afterAll(() => bare?.close());

  it('answers 503 and says which variable to set', async () => {
    const body = JSON.stringify({ object: 'event', type: 'user.updated', data: { id: 'user_x' } });
    const response = await deliver(bare, { body });
    expect(response.status).toBe(503);
    expect(response.json?.error).toMatch(/CLERK_WEBHOOK_SIGNING_SECRET/);
  });
});
