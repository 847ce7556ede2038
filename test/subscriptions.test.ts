/**
 * Live team pages (issue 12), over real HTTP with a real client (`graphql-sse`, distinct connections, Yoga's SSE):
 * every Clerk write becomes exactly one event per burst with the right reason and the new data, soon after the
 * webhook's 2xx; N subscribers cost one Clerk read per change; a stream ends FORBIDDEN when access ends (membership,
 * organization, user, session), completes at its lifetime or its token's expiry; limits; reconnects start with
 * the current state.
 *
 * We await events (SSE events, webhook deliveries, a stream's end), never sleeps, and assert their order, never their
 * timing (how soon an event follows its webhook is the subscription bench's to measure: `npm run
 * bench:subscriptions`). "Exactly one event per burst" is shown without waiting for silence: each write's event must
 * be the very next one the stream delivers after the previous write's, so a duplicate or an extra event would show
 * up in place of the next write's.
 */
import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FORBIDDEN_MESSAGE } from '../src/graphql/errors.js';
import type { Logger } from '../src/observability/logger.js';
import { LiveTeam } from './documents.js';
import type { LiveTeamSubscription } from './gql/graphql.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, metricOf, postSignedWebhook, startHarness } from './helpers/harness.js';
import { happened, type LiveEvent, type LiveSubscription, subscribe } from './helpers/live.js';

type Live = LiveSubscription<LiveTeamSubscription>;
type Event = LiveEvent<LiveTeamSubscription>;

/** The order in which the webhook route answered deliveries (it logs `webhook` at debug level right before its 2xx). */
function answerLog() {
  const answers: { eventType: string; order: number }[] = [];
  const quiet = () => {};
  const logger: Logger = {
    enabled: (level) => level === 'debug',
    debug(message, fields) {
      if (message === 'webhook') answers.push({ eventType: String(fields?.eventType), order: happened() });
    },
    info: quiet,
    warn: quiet,
    error: quiet,
  };
  return { logger, answers };
}

function live(h: Harness, token: string | null, organizationId: string, includePending = false): Live {
  return subscribe(h.url, token, LiveTeam, { id: organizationId, limit: 100, includePending });
}

function expectChange(event: Event, reasons: string[]) {
  expect(event.errors).toBeUndefined();
  expect(event.data?.teamChanged.reasons).toEqual(reasons);
  return event.data?.teamChanged as LiveTeamSubscription['teamChanged'];
}

function expectForbidden(event: Event) {
  expect(event.data ?? null).toBeNull();
  expect(event.errors?.map((error) => [error.message, error.extensions?.code])).toEqual([
    [FORBIDDEN_MESSAGE, 'FORBIDDEN'],
  ]);
}

const userIds = (change: LiveTeamSubscription['teamChanged']) =>
  change.members.members.map((member) => member.userId);

/** Signs and posts a Clerk event as Clerk's Svix would; resolves with the route's status. */
async function sendWebhook(h: Harness, type: string, data: Record<string, unknown>) {
  const body = JSON.stringify({ type, object: 'event', data, timestamp: Date.now() });
  const response = await postSignedWebhook(h.url, body, { secret: h.webhookSecret });
  return response.status;
}

const streams: Live[] = [];
/** A subscription closed after the test, whatever happens in it. */
function track(subscription: Live): Live {
  streams.push(subscription);
  return subscription;
}
afterEach(() => {
  for (const subscription of streams.splice(0)) subscription.dispose();
});

describe('Clerk writes, one after another', () => {
  let h: Harness;
  const webhooks = answerLog();
  beforeAll(async () => {
    h = await startHarness({ logger: webhooks.logger });
  });
  afterAll(() => h.close());

  it('each becomes exactly one event, with its reason and the new data, after its webhooks were answered', async () => {
    const team = seedTeam(h.emulator, { name: 'Writes Co', members: 3 });
    const { organizationId } = team;
    const adminUserId = team.admin.userId;
    const stream = track(live(h, team.tokenFor(adminUserId), organizationId, true));
    const initial = expectChange(await stream.next(), ['INITIAL']);
    expect(initial.members.totalCount).toBe(4);
    expect(initial.members.fromCache).toBe(false);

    let lastVersion = initial.version;
    /** Makes a write, then takes the very next event: it must be this write's, following all of its webhooks. */
    async function step(name: string, reasons: string[], write: () => Promise<unknown>) {
      const answered = webhooks.answers.length;
      await write();
      const event = await stream.next();
      const change = expectChange(event, reasons);
      expect(change.version).toBeGreaterThan(lastVersion);
      lastVersion = change.version;
      // Served from the cache: the refresh-ahead re-read came first, the event after it.
      expect(change.members.fromCache, name).toBe(true);
      // Pushed by the burst's webhooks: received after the route answered each of them (one event for the burst,
      // not one per webhook nor one before the burst was in).
      const burst = webhooks.answers.slice(answered);
      expect(burst.length, name).toBeGreaterThan(0);
      for (const answer of burst)
        expect(answer.order, `${name}: ${answer.eventType}`).toBeLessThan(event.order);
      return change;
    }

    const newcomer = h.emulator.store.createUser({
      firstName: 'Nia',
      lastName: 'Newcomer',
      emailAddress: `nia.${randomBytes(3).toString('hex')}@writes.test`,
    });
    const added = await step('add', ['MEMBER_ADDED'], () =>
      h.clerk.organizations.createOrganizationMembership({
        organizationId,
        userId: newcomer.id,
        role: 'org:member',
      }),
    );
    expect(added.members.totalCount).toBe(5);
    expect(added.members.members[0]).toMatchObject({
      userId: newcomer.id,
      firstName: 'Nia',
      role: 'org:member',
    });

    const promoted = await step('role change', ['MEMBER_UPDATED'], () =>
      h.clerk.organizations.updateOrganizationMembership({
        organizationId,
        userId: newcomer.id,
        role: 'org:admin',
      }),
    );
    expect(promoted.members.members.find((member) => member.userId === newcomer.id)?.role).toBe('org:admin');

    const email = `ivy.${randomBytes(3).toString('hex')}@writes.test`;
    let invitationId = '';
    const invited = await step('invite', ['INVITATION_CREATED'], async () => {
      const invitation = await h.clerk.organizations.createOrganizationInvitation({
        organizationId,
        emailAddress: email,
        role: 'org:member',
        inviterUserId: adminUserId,
      });
      invitationId = invitation.id;
    });
    expect(invited.members.pendingInvitations?.map((invitation) => invitation.email)).toEqual([email]);

    const revoked = await step('revoke invitation', ['INVITATION_REVOKED'], () =>
      h.clerk.organizations.revokeOrganizationInvitation({
        organizationId,
        invitationId,
        requestingUserId: adminUserId,
      }),
    );
    expect(revoked.members.pendingInvitations).toEqual([]);

    // An accepted invitation is a burst of two webhooks (accepted, then the membership created): one event.
    const second = await h.clerk.organizations.createOrganizationInvitation({
      organizationId,
      emailAddress: `otto.${randomBytes(3).toString('hex')}@writes.test`,
      role: 'org:member',
      inviterUserId: adminUserId,
    });
    expectChange(await stream.next(), ['INVITATION_CREATED']);
    let joinedUserId = '';
    const accepted = await step(
      'accept invitation (2 webhooks)',
      ['INVITATION_ACCEPTED', 'MEMBER_ADDED'],
      async () => {
        joinedUserId = (await h.emulator.control.acceptInvitation(second.id)).userId;
      },
    );
    expect(accepted.members.totalCount).toBe(6);
    expect(userIds(accepted)).toContain(joinedUserId);
    expect(accepted.members.pendingInvitations).toEqual([]);

    const removed = await step('remove a member', ['MEMBER_REMOVED'], () =>
      h.clerk.organizations.deleteOrganizationMembership({ organizationId, userId: newcomer.id }),
    );
    expect(removed.members.totalCount).toBe(5);
    expect(userIds(removed)).not.toContain(newcomer.id);

    // Nothing more was queued behind the last write's event: the next event is the next write's.
    await step('profile change', ['MEMBER_UPDATED'], () =>
      h.clerk.users.updateUser(joinedUserId, { firstName: 'Renamed' }),
    );
    expect(stream.received).toHaveLength(9);
  });
});

describe('live streams on a shared server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  /** Clerk reads (GETs) of these paths since `from` (an index into the emulator's request log). */
  const readsSince = (from: number, ...paths: string[]) =>
    Object.fromEntries(
      paths.map((path) => [
        path,
        h.emulator.control
          .requestLog()
          .slice(from)
          .filter((entry) => entry.method === 'GET' && entry.path === path).length,
      ]),
    );

  it('ten subscribers of one organization cost no Clerk read for a change patched from its webhook, and all get the event', async () => {
    const team = seedTeam(h.emulator, { name: 'Crowd Co', members: 9 });
    const { organizationId } = team;
    const everyone = [team.admin.userId, ...team.memberIds];
    const subscribers = everyone.map((userId) => track(live(h, team.tokenFor(userId), organizationId, true)));
    for (const subscriber of subscribers) expectChange(await subscriber.next(), ['INITIAL']);

    const from = h.emulator.control.requestLog().length;
    const user = h.emulator.store.createUser({
      emailAddress: `crowd.${randomBytes(3).toString('hex')}@crowd.test`,
    });
    await h.clerk.organizations.createOrganizationMembership({
      organizationId,
      userId: user.id,
      role: 'org:member',
    });
    for (const subscriber of subscribers) {
      const change = expectChange(await subscriber.next(), ['MEMBER_ADDED']);
      expect(change.members.totalCount).toBe(11);
      expect(userIds(change)[0]).toBe(user.id);
    }
    const roster = `/v1/organizations/${organizationId}/memberships`;
    const invitations = `/v1/organizations/${organizationId}/invitations`;
    expect(readsSince(from, roster, invitations)).toEqual({ [roster]: 0, [invitations]: 0 });
  });

  it("removing a subscriber's own membership ends their stream FORBIDDEN; the others' streams go on", async () => {
    const team = seedTeam(h.emulator, { name: 'Removal Co', members: 3 });
    const { organizationId } = team;
    const adminUserId = team.admin.userId;
    const leaver = team.memberIds[0] as string;
    const theirs = track(live(h, team.tokenFor(leaver), organizationId));
    const admins = track(live(h, team.tokenFor(adminUserId), organizationId));
    expectChange(await theirs.next(), ['INITIAL']);
    expectChange(await admins.next(), ['INITIAL']);

    await h.clerk.organizations.deleteOrganizationMembership({ organizationId, userId: leaver });
    expectForbidden(await theirs.next());
    expect(await theirs.ended).toEqual({ kind: 'complete' });
    expect(theirs.received).toHaveLength(2);

    const change = expectChange(await admins.next(), ['MEMBER_REMOVED']);
    expect(userIds(change)).not.toContain(leaver);
    await h.clerk.organizations.updateOrganizationMembership({
      organizationId,
      userId: team.memberIds[1] as string,
      role: 'org:admin',
    });
    expectChange(await admins.next(), ['MEMBER_UPDATED']);
    expect(admins.isOver).toBe(false);
  });

  it.each(['session.ended', 'session.revoked', 'session.removed'])(
    '%s for the subscriber’s session ends that stream FORBIDDEN; their other session’s stream goes on',
    async (eventType) => {
      const team = seedTeam(h.emulator, { name: 'Session Co', members: 3 });
      const { organizationId } = team;
      const adminUserId = team.admin.userId;
      const sessionId = `sess_${randomBytes(8).toString('hex')}`;
      const ending = track(live(h, team.tokenFor(adminUserId, { sessionId }), organizationId));
      const other = track(
        live(h, team.tokenFor(adminUserId, { sessionId: `${sessionId}x` }), organizationId),
      );
      expectChange(await ending.next(), ['INITIAL']);
      expectChange(await other.next(), ['INITIAL']);

      expect(
        await sendWebhook(h, eventType, {
          object: 'session',
          id: sessionId,
          user_id: adminUserId,
          status: 'ended',
        }),
      ).toBe(200);
      expectForbidden(await ending.next());
      expect(await ending.ended).toEqual({ kind: 'complete' });

      await h.clerk.organizations.updateOrganizationMembership({
        organizationId,
        userId: team.memberIds[0] as string,
        role: 'org:admin',
      });
      expectChange(await other.next(), ['MEMBER_UPDATED']);
    },
  );

  it('deleting the organization ends every stream on it FORBIDDEN', async () => {
    const team = seedTeam(h.emulator, { name: 'Doomed Co', members: 3 });
    const subscribers = [team.admin.userId, ...team.memberIds.slice(0, 2)].map((userId) =>
      track(live(h, team.tokenFor(userId), team.organizationId)),
    );
    for (const subscriber of subscribers) expectChange(await subscriber.next(), ['INITIAL']);
    await h.clerk.organizations.deleteOrganization(team.organizationId);
    for (const subscriber of subscribers) {
      expectForbidden(await subscriber.next());
      expect(await subscriber.ended).toEqual({ kind: 'complete' });
    }
  });

  it("deleting the user ends their streams FORBIDDEN (every organization); the others' go on", async () => {
    const first = seedTeam(h.emulator, { name: 'User A Co', members: 3 });
    const second = seedTeam(h.emulator, { name: 'User B Co', members: 3 });
    const user = first.memberIds[0] as string;
    // Behind the server's back (no webhook, so no event of its own): a member of both.
    h.emulator.store.addMembership(second.organizationId, user, 'org:member');
    const streamsOfUser = [first, second].map((team) =>
      track(live(h, team.tokenFor(user), team.organizationId)),
    );
    const admin = track(live(h, first.tokenFor(first.admin.userId), first.organizationId));
    for (const stream of [...streamsOfUser, admin]) expectChange(await stream.next(), ['INITIAL']);

    await h.clerk.users.deleteUser(user);
    for (const stream of streamsOfUser) {
      expectForbidden(await stream.next());
      expect(await stream.ended).toEqual({ kind: 'complete' });
    }
    expect(expectChange(await admin.next(), ['MEMBER_REMOVED']).members.totalCount).toBe(3);
  });

  it('a reconnect starts with the current state (INITIAL), changes made while away included', async () => {
    const team = seedTeam(h.emulator, { name: 'Reconnect Co', members: 3 });
    const { organizationId } = team;
    const adminUserId = team.admin.userId;
    const first = track(live(h, team.tokenFor(adminUserId), organizationId));
    const before = expectChange(await first.next(), ['INITIAL']);
    first.dispose();

    const user = h.emulator.store.createUser({
      emailAddress: `away.${randomBytes(3).toString('hex')}@away.test`,
    });
    await h.clerk.organizations.createOrganizationMembership({
      organizationId,
      userId: user.id,
      role: 'org:member',
    });
    await h.emulator.control.webhooksSettled();

    const again = track(live(h, team.tokenFor(adminUserId), organizationId));
    const now = expectChange(await again.next(), ['INITIAL']);
    expect(now.members.totalCount).toBe(before.members.totalCount + 1);
    expect(userIds(now)[0]).toBe(user.id);
    expect(now.version).toBeGreaterThanOrEqual(before.version);
  });

  it('a non-member is refused FORBIDDEN at subscribe time (the stream completes); no token is a 401', async () => {
    const team = seedTeam(h.emulator, { name: 'Closed Co', members: 3 });
    const other = seedTeam(h.emulator, { name: 'Other Co', members: 3 });
    const outsider = track(live(h, other.tokenFor(other.admin.userId), team.organizationId));
    expectForbidden(await outsider.next());
    expect(await outsider.ended).toEqual({ kind: 'complete' });

    const anonymous = track(live(h, null, team.organizationId));
    const end = await anonymous.ended;
    expect(end.kind).toBe('error');
    expect((end as { error: { response?: { status: number } } }).error.response?.status).toBe(401);
    expect(anonymous.received).toEqual([]);
  });

  it('a client that goes away frees its stream (team_subscriptions_open counts it out)', async () => {
    const team = seedTeam(h.emulator, { name: 'Leaving Co', members: 3 });
    const stream = track(live(h, team.tokenFor(team.admin.userId), team.organizationId));
    expectChange(await stream.next(), ['INITIAL']);
    expect(h.app.liveStreams.watching(team.organizationId)).toBe(true);
    const open = h.app.liveStreams.stats().open;
    stream.dispose();
    await vi.waitFor(() => expect(h.app.liveStreams.watching(team.organizationId)).toBe(false), {
      timeout: 5000,
      interval: 10,
    });
    // Other tests' streams may close meanwhile, never open: at least this one is counted out.
    expect(h.app.liveStreams.stats().open).toBeLessThan(open);
  });

  it('a subscription asking for more than 1,000 members per event is refused QUERY_TOO_COMPLEX', async () => {
    const team = seedTeam(h.emulator, { name: 'Big Ask Co', members: 3 });
    const stream = track(
      subscribe(
        h.url,
        team.tokenFor(team.admin.userId),
        // Three members(limit: 500) in one event: 1,500 member objects.
        parse(`subscription ($id: ID!) { teamChanged(organizationId: $id) {
          a: members(limit: 500) { totalCount } b: members(limit: 500) { totalCount } c: members(limit: 500) { totalCount } } }`) as TypedDocumentNode<
          LiveTeamSubscription,
          { id: string }
        >,
        { id: team.organizationId },
      ),
    );
    const refused = await stream.next();
    expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['QUERY_TOO_COMPLEX']);
  });
});

describe('with refresh-ahead held back (no event for a minute after a webhook)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: { webhookRefreshDebounceMs: 60_000 } });
  });
  afterAll(() => h.close());

  // No event can carry these ends: the revocation recorded by the webhook ends the stream by itself.
  it.each([
    ['the subscriber’s membership deleted', 'membership'],
    ['the organization deleted', 'organization'],
    ['the user deleted', 'user'],
  ] as const)('%s: FORBIDDEN as soon as the webhook is answered', async (_name, what) => {
    const team = seedTeam(h.emulator, { name: 'Held Co', members: 3 });
    const { organizationId } = team;
    const userId = team.memberIds[0] as string;
    const stream = track(live(h, team.tokenFor(userId), organizationId));
    expectChange(await stream.next(), ['INITIAL']);
    if (what === 'membership')
      await h.clerk.organizations.deleteOrganizationMembership({ organizationId, userId });
    if (what === 'organization') await h.clerk.organizations.deleteOrganization(organizationId);
    if (what === 'user') await h.clerk.users.deleteUser(userId);
    expectForbidden(await stream.next());
    expect(await stream.ended).toEqual({ kind: 'complete' });
  });
});

describe('a removal whose webhook was lost', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('is caught at the next re-read: each event is re-authorized from its own snapshot, like a query', async () => {
    const team = seedTeam(h.emulator, { name: 'Lost Co', members: 3 });
    const { organizationId } = team;
    const adminUserId = team.admin.userId;
    const leaver = team.memberIds[0] as string;
    const theirs = track(live(h, team.tokenFor(leaver), organizationId));
    const admins = track(live(h, team.tokenFor(adminUserId), organizationId));
    expectChange(await theirs.next(), ['INITIAL']);
    expectChange(await admins.next(), ['INITIAL']);

    // The removal's webhook never reaches the server: no revocation is recorded.
    await fetch(`${h.emulator.url}/__emulator/webhooks/endpoints`, { method: 'DELETE' });
    await h.clerk.organizations.deleteOrganizationMembership({ organizationId, userId: leaver });
    h.emulator.control.addWebhookEndpoint({ url: `${h.url}/webhooks/clerk`, secret: h.webhookSecret });

    // The next re-read shows the roster without them: a change no webhook payload can patch (the organization's
    // own; a membership change is patched from its payload and re-reads nothing), or the TTL.
    await h.clerk.organizations.updateOrganization(organizationId, { name: 'Lost Co (renamed)' });
    const change = expectChange(await admins.next(), ['ORGANIZATION_UPDATED']);
    expect(userIds(change)).not.toContain(leaver);
    expectForbidden(await theirs.next());
    expect(await theirs.ended).toEqual({ kind: 'complete' });
    expect(theirs.received).toHaveLength(2);
  });
});

describe('limits and lifetimes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      config: { subscriptionMaxStreamsPerUser: 2, subscriptionMaxStreams: 3 },
    });
  });
  afterAll(() => h.close());

  const metric = (name: string, labels?: Record<string, string>) => metricOf(h.adminUrl, name, labels);

  function expectRefused(event: Event, limit: 'user' | 'process') {
    expect(event.data ?? null).toBeNull();
    expect(event.errors?.map((error) => [error.extensions?.code, error.extensions?.limit])).toEqual([
      ['TOO_MANY_STREAMS', limit],
    ]);
  }

  it('refuses a user’s third stream and the process’s fourth with TOO_MANY_STREAMS; /metrics counts them', async () => {
    const team = seedTeam(h.emulator, { name: 'Limits Co', members: 3 });
    const [a, b, c] = team.memberIds as [string, string, string];
    const refusedBefore = await metric('team_subscriptions_refused_total');
    const open = async (userId: string) => {
      const stream = track(live(h, team.tokenFor(userId), team.organizationId));
      return { stream, first: await stream.next() };
    };
    const a1 = await open(a);
    const a2 = await open(a);
    expectChange(a1.first, ['INITIAL']);
    expectChange(a2.first, ['INITIAL']);
    const a3 = await open(a);
    expectRefused(a3.first, 'user');
    expect(await a3.stream.ended).toEqual({ kind: 'complete' });

    expectChange((await open(b)).first, ['INITIAL']);
    const c1 = await open(c);
    expectRefused(c1.first, 'process');
    expect(await metric('team_subscriptions_open')).toBe(3);
    expect(await metric('team_subscriptions_refused_total', { limit: 'user' })).toBeGreaterThanOrEqual(1);
    expect((await metric('team_subscriptions_refused_total')) - refusedBefore).toBe(2);

    // One closes: room for another.
    a1.stream.dispose();
    await vi.waitFor(() => expect(h.app.liveStreams.stats().open).toBe(2), { timeout: 5000, interval: 10 });
    expectChange((await open(c)).first, ['INITIAL']);
  });

  it('a stream completes (no error) when its token expires, so the client reconnects with a fresh one', async () => {
    const team = seedTeam(h.emulator, { name: 'Expiry Co', members: 3 });
    // This suite's process limit is 3 streams: wait for another test's streams to be gone.
    await vi.waitFor(() => expect(h.app.liveStreams.stats().open).toBe(0), { timeout: 5000, interval: 10 });
    const expiredBefore = await metric('team_subscriptions_ended_total', { cause: 'expired' });
    // The same user on the same organization, once with a token that expires in 2 s and once with one that lasts an
    // hour (the server's maximum lifetime is 15 minutes): only the token can end the first before the second.
    const expiring = track(live(h, team.tokenFor(team.admin.userId, { expiresInS: 2 }), team.organizationId));
    const lasting = track(live(h, team.tokenFor(team.admin.userId), team.organizationId));
    expectChange(await expiring.next(), ['INITIAL']);
    expectChange(await lasting.next(), ['INITIAL']);
    expect(await expiring.ended).toEqual({ kind: 'complete' });
    expect(expiring.received).toHaveLength(1);
    expect(await metric('team_subscriptions_ended_total', { cause: 'expired' })).toBe(expiredBefore + 1);
    // The other stream goes on: the next change reaches it.
    await h.clerk.organizations.updateOrganizationMembership({
      organizationId: team.organizationId,
      userId: team.memberIds[0] as string,
      role: 'org:admin',
    });
    expectChange(await lasting.next(), ['MEMBER_UPDATED']);
    expect(lasting.isOver).toBe(false);
    lasting.dispose();
    await vi.waitFor(() => expect(h.app.liveStreams.stats().open).toBe(0), { timeout: 5000, interval: 10 });
    // When exactly a stream ends (the sooner of its lifetime and its token's expiry) is shown on a fake clock in
    // test/live-streams.test.ts.
  });
});

describe('a maximum lifetime', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: { subscriptionMaxLifetimeSeconds: 1 } });
  });
  afterAll(() => h.close());

  it('completes a stream after SUBSCRIPTION_MAX_LIFETIME_SECONDS, without an error', async () => {
    const team = seedTeam(h.emulator, { name: 'Lifetime Co', members: 3 });
    const expiredBefore = await metricOf(h.adminUrl, 'team_subscriptions_ended_total', { cause: 'expired' });
    // Its token lasts an hour: only the lifetime can end the stream.
    const stream = track(live(h, team.tokenFor(team.admin.userId), team.organizationId));
    expectChange(await stream.next(), ['INITIAL']);
    expect(await stream.ended).toEqual({ kind: 'complete' });
    expect(stream.received).toHaveLength(1);
    expect(await metricOf(h.adminUrl, 'team_subscriptions_ended_total', { cause: 'expired' })).toBe(
      expiredBefore + 1,
    );
    expect(h.app.liveStreams.stats().open).toBe(0);
  });
});

describe('an organization pushed out of the cache', () => {
  let h: Harness;
  beforeAll(async () => {
    // Room for one organization of 30 members: reading another pushes the first out.
    h = await startHarness({ config: { cacheMaxMembers: 40 } });
  });
  afterAll(() => h.close());

  it('is still re-read after its webhooks while someone watches it, and the event is served from the cache', async () => {
    const watched = seedTeam(h.emulator, { name: 'Watched Co', members: 9 });
    const big = seedTeam(h.emulator, { name: 'Big Co', members: 34 });
    const stream = track(live(h, watched.tokenFor(watched.admin.userId), watched.organizationId));
    expectChange(await stream.next(), ['INITIAL']);
    // Reading the big organization evicts the watched one.
    const evict = await h.query(`{ organization(id: "${big.organizationId}") { members { totalCount } } }`, {
      token: big.tokenFor(big.admin.userId),
    });
    expect(evict.errors).toBeUndefined();
    expect(h.app.cache.cachedParts(watched.organizationId)).toEqual({ roster: false, invitations: false });

    const user = h.emulator.store.createUser({
      emailAddress: `late.${randomBytes(3).toString('hex')}@late.test`,
    });
    await h.clerk.organizations.createOrganizationMembership({
      organizationId: watched.organizationId,
      userId: user.id,
      role: 'org:member',
    });
    const change = expectChange(await stream.next(), ['MEMBER_ADDED']);
    expect(change.members).toMatchObject({ totalCount: 11, fromCache: true });
  });
});

describe('shutdown', () => {
  it('completes open streams (clients reconnect elsewhere) instead of cutting them', async () => {
    const h = await startHarness();
    try {
      const team = seedTeam(h.emulator, { name: 'Shutdown Co', members: 3 });
      const stream = track(live(h, team.tokenFor(team.admin.userId), team.organizationId));
      expectChange(await stream.next(), ['INITIAL']);
      const closing = h.app.shutdown({ graceMs: 5000 });
      expect(await stream.ended).toEqual({ kind: 'complete' });
      await closing;
    } finally {
      await h.emulator.close();
    }
  });
});
