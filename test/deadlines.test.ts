import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, metricOf, postSignedWebhook, startHarness } from './helpers/harness.js';

const ROSTER = `query Roster($id: ID!, $forceRefresh: Boolean) {
  organization(id: $id) {
    members(limit: 500, forceRefresh: $forceRefresh) { fromCache stale totalCount members { userId firstName } }
  }
}`;
interface Members {
  fromCache: boolean;
  stale: boolean;
  totalCount: number;
  members: { userId: string; firstName: string | null }[];
}
type RosterData = { organization: { members: Members } };
const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';

interface Org {
  id: string;
  token: string;
  userIds: string[];
}

/** An organization in the emulator (no webhooks), and a token of `userId` (default: its first member) naming it. */
function organization(h: Harness, members = 2, userId?: string): Org {
  const team = seedTeam(h.emulator, {
    admins: 0,
    members,
    join: userId ? [{ userId }] : [],
    tokens: { expiresInS: 600 },
  });
  return {
    id: team.organizationId,
    token: team.tokenFor(userId ?? (team.memberIds[0] as string)),
    userIds: team.memberIds,
  };
}

async function query(h: Harness, org: Org, forceRefresh = false) {
  const result = await h.query<RosterData, { id: string; forceRefresh: boolean }>(ROSTER, {
    token: org.token,
    variables: { id: org.id, forceRefresh },
  });
  return { ...result, members: result.data?.organization.members };
}

/** Clerk reads of this organization's memberships (the SDK writes of some tests go to the same path). */
const readsOf = (h: Harness, organizationId: string) =>
  h.emulator.control
    .requestLog()
    .filter(
      (entry) =>
        entry.route === MEMBERSHIPS && entry.path === `/v1/organizations/${organizationId}/memberships`,
    ).length;

/** Calls the upstream policy refused without asking Clerk, for this reason, as /metrics counts them. */
const refusals = (h: Harness, reason: string) =>
  metricOf(h.adminUrl, 'clerk_calls_refused_total', { route: 'memberships', reason });

/** POSTs a hand-signed Clerk event to the server's webhook route, as Svix would; returns the route's status. */
async function deliver(h: Harness, event: { type: string; data: Record<string, unknown> }) {
  const date = new Date();
  const body = JSON.stringify({ object: 'event', timestamp: date.getTime(), ...event });
  const response = await postSignedWebhook(h.url, body, { secret: h.webhookSecret, date });
  return ((await response.json()) as { status: string }).status;
}

const membershipUpdated = (organizationId: string, userId: string) => ({
  type: 'organizationMembership.updated',
  data: {
    object: 'organization_membership',
    organization: { id: organizationId },
    public_user_data: { user_id: userId },
  },
});
const userUpdated = (userId: string) => ({ type: 'user.updated', data: { object: 'user', id: userId } });

/** A Clerk write (through the SDK, as an admin tool would) that adds a member; its webhook is delivered. */
/**
 * Adds a member in Clerk in a way that invalidates our copy (so refresh-ahead re-reads it): a membership webhook
 * would be patched into the cached roster without a read, so the member is added without one and the organization
 * is renamed through the Clerk API, whose webhook invalidates.
 */
async function addMember(h: Harness, organizationId: string) {
  const user = h.emulator.store.createUser({ firstName: 'New', emailAddress: `${Math.random()}@x.test` });
  h.emulator.store.addMembership(organizationId, user.id, 'org:member');
  await h.clerk.organizations.updateOrganization(organizationId, { name: `Renamed ${user.id}` });
  await h.emulator.control.webhooksSettled();
  return user.id;
}

/** Metric value from /metrics (0 when the series is absent). */
async function metric(h: Harness, series: string) {
  const text = await (await fetch(`${h.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((each) => each.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Nothing queued for or under way at Clerk, and no read in flight in the cache. */
function idle(h: Harness) {
  const upstream = h.app.upstream.stats();
  return upstream.queued === 0 && upstream.inFlight === 0 && h.app.cache.stats().inFlight === 0;
}

describe("one user's flood cannot starve another (the caller reaches the upstream policy)", () => {
  it("another user's cold reads are all answered during the flood; the flooder's excess is refused RATE_LIMITED on arrival", async () => {
    const latencyMs = 200;
    const maxPerCaller = 10;
    const h = await startHarness({
      emulator: { seed: 'empty', latencyMs },
      config: {
        clerkRateLimit: 100,
        clerkRateLimitWindowSeconds: 1,
        clerkTimeoutMs: 2000,
        requestDeadlineMs: 3000,
        clerkQueueMaxPerCaller: maxPerCaller,
      },
    });
    try {
      const flooder = h.emulator.store.createUser({ emailAddress: 'flooder@x.test' });
      const other = h.emulator.store.createUser({ emailAddress: 'other@x.test' });
      const callerLimitBefore = await refusals(h, 'caller_limit');
      let flooding = true;
      const flood: string[] = [];
      // A refused client retries as soon as one of the flood's reads has been answered (a queue of them), so the
      // flooder always has as many reads at Clerk as it is allowed, without spinning this process's CPU (server,
      // emulator and clients share it) on refusals.
      const retrying: (() => void)[] = [];
      const clients = Array.from({ length: 50 }, async () => {
        while (flooding) {
          const result = await query(h, organization(h, 2, flooder.id));
          const code = String(result.errors?.[0]?.extensions?.code ?? 'ok');
          flood.push(code);
          if (code === 'ok') retrying.shift()?.();
          else await new Promise<void>((resolve) => retrying.push(resolve));
        }
      });
      // Once the flood is under way (its first answers are in), the other user reads 30 cold organizations.
      await vi.waitFor(() => expect(flood.length).toBeGreaterThan(50), { timeout: 10_000, interval: 5 });
      const samples = [];
      for (let i = 0; i < 30; i++) samples.push(await query(h, organization(h, 2, other.id)));
      flooding = false;
      for (const retry of retrying.splice(0)) retry();
      await Promise.all(clients);

      // The other user is never refused: each read reached Clerk (its own cold read) while the flood went on.
      for (const sample of samples) expect(sample.members).toMatchObject({ fromCache: false, totalCount: 3 });
      // The flooder's reads were told apart by user: some answered, the rest refused RATE_LIMITED, nothing else.
      const refused = flood.filter((code) => code === 'RATE_LIMITED').length;
      expect(refused).toBeGreaterThan(0);
      expect(flood.filter((code) => code === 'ok').length).toBeGreaterThan(0);
      expect(flood.filter((code) => !['ok', 'RATE_LIMITED'].includes(code))).toEqual([]);
      // Every refusal was the per-user cap, decided on arrival (never a call dropped after waiting for the budget).
      expect(await refusals(h, 'caller_limit')).toBe(callerLimitBefore + refused);
      expect(await refusals(h, 'deadline')).toBe(0);
      // The order of turns (a newcomer goes next, not after the backlog) is shown on a fake clock in
      // test/upstream.test.ts; how long the other user waits is a timing, not this suite's to measure.
    } finally {
      await h.close();
    }
  });
});

describe('after a webhook flood, Clerk calls stop', () => {
  it('once the last webhook is answered: one re-read per organization, no backlog', async () => {
    const latencyMs = 200;
    const debounceMs = 10;
    // The budget (50 calls/s) is what holds calls back here, well below what 32 sockets at 200 ms carry.
    const h = await startHarness({
      emulator: { seed: 'empty', latencyMs },
      config: { clerkRateLimit: 50, clerkRateLimitWindowSeconds: 1, webhookRefreshDebounceMs: debounceMs },
    });
    try {
      const organizations = Array.from({ length: 10 }, () => organization(h));
      await Promise.all(
        organizations.map(async (org) => expect((await query(h, org)).members?.fromCache).toBe(false)),
      );
      // 1,000 membership updates over the 10 cached organizations, from 10 senders at once: each organization is
      // invalidated and re-read ahead over and over, ten times beyond the budget.
      let next = 0;
      const statuses = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const seen: string[] = [];
          while (next < 1000) {
            const org = organizations[next++ % organizations.length] as Org;
            seen.push(await deliver(h, membershipUpdated(org.id, org.userIds[0] as string)));
          }
          return seen;
        }),
      );
      // Where the flood ended in Clerk's request log: every read after this one was made after the last webhook.
      const floodEnd = h.emulator.control.requestLog().length;
      expect(statuses.flat().every((status) => status === 'processed')).toBe(true);

      // Every organization re-read once after its last webhook, and nothing left queued or under way.
      await vi.waitFor(
        () => {
          expect(idle(h)).toBe(true);
          for (const org of organizations) expect(h.app.cache.peekRoster(org.id)).toBeDefined();
        },
        { timeout: 30_000, interval: 10 },
      );
      const afterFlood = h.emulator.control.requestLog().slice(floodEnd);
      // One re-read per organization, give or take the one already under way when its last webhook landed (sent a
      // moment before the flood's end, logged by the emulator a moment after): at most two each. Without the guards
      // this is hundreds (the backlog the budget queued during the flood), drained long after the flood.
      for (const org of organizations) {
        const path = `/v1/organizations/${org.id}/memberships`;
        expect(
          afterFlood.filter((entry) => entry.path === path).length,
          `${org.id}: reads after the flood`,
        ).toBeLessThanOrEqual(2);
      }
    } finally {
      await h.close();
    }
  });
});

describe('forceRefresh reads Clerk after the request arrived', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ emulator: { seed: 'empty', latencyMs: 20 }, gateClerk: true });
  });
  afterAll(() => h.close());

  it('a Clerk write whose webhook was lost shows at once: fromCache false, the change there', async () => {
    const org = organization(h);
    expect((await query(h, org)).members?.totalCount).toBe(2);
    // Webhooks off: the write below is never announced.
    const removed = await fetch(`${h.emulator.url}/__emulator/webhooks/endpoints`, { method: 'DELETE' });
    expect(removed.ok).toBe(true);
    try {
      const deliveredBefore = h.emulator.control.deliveries().length;
      const newcomer = await addMember(h, org.id);
      expect(h.emulator.control.deliveries().slice(deliveredBefore)).toEqual([]);
      expect((await query(h, org)).members).toMatchObject({ fromCache: true, totalCount: 2 }); // the lost webhook
      const forced = await query(h, org, true);
      expect(forced.members).toMatchObject({ fromCache: false, stale: false, totalCount: 3 });
      expect(forced.members?.members.map((member) => member.userId)).toContain(newcomer);
      // Stored: the next query is a hit with the change.
      expect((await query(h, org)).members).toMatchObject({ fromCache: true, totalCount: 3 });
      // And again right away: every forced query is a read of its own (none was under way).
      const readsBefore = readsOf(h, org.id);
      expect((await query(h, org, true)).members?.fromCache).toBe(false);
      expect(readsOf(h, org.id)).toBe(readsBefore + 1);
    } finally {
      h.emulator.control.addWebhookEndpoint({ url: `${h.url}/webhooks/clerk`, secret: h.webhookSecret });
    }
  });

  it('forced queries during an older read wait for it and share one more read, which shows the change', async () => {
    const org = organization(h);
    const path = `/v1/organizations/${org.id}/memberships`;
    const held = h.gate?.hold((requested) => requested === path);
    if (!held) throw new Error('the harness gates Clerk');
    const older = query(h, org); // cold: Clerk answers from the data before the write below, held on its way back
    await held.answered;
    h.emulator.store.populate(org.id, 1); // a change behind the cache's back (no webhook)
    const joinedBefore = await metric(h, 'team_cache_reads_total{part="members",outcome="inflight"}');
    const forced = Array.from({ length: 5 }, () => query(h, org, true));
    // All five are waiting (on the read queued behind the older one) before Clerk's answer is let through.
    await vi.waitFor(
      async () =>
        expect(await metric(h, 'team_cache_reads_total{part="members",outcome="inflight"}')).toBe(
          joinedBefore + 5,
        ),
      { timeout: 10_000, interval: 5 },
    );
    expect(readsOf(h, org.id)).toBe(1);
    held.release();
    expect((await older).members).toMatchObject({ fromCache: false, totalCount: 2 });
    for (const result of await Promise.all(forced)) {
      expect(result.members).toMatchObject({ fromCache: false, totalCount: 3 });
    }
    expect(readsOf(h, org.id)).toBe(2);
  });
});

describe('user.updated during a 20-page roster read', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ emulator: { seed: 'empty', latencyMs: 50 }, gateClerk: true });
  });
  afterAll(() => h.close());

  /** Starts a cold read of a 10,000-member organization and holds its page at offset 5,000 until released. */
  async function bigReadUnderWay(org: Org) {
    const path = `/v1/organizations/${org.id}/memberships`;
    const held = h.gate?.hold((requested, query) => requested === path && query.get('offset') === '5000');
    if (!held) throw new Error('the harness gates Clerk');
    const read = query(h, org);
    await held.answered;
    return { read, release: () => held.release() };
  }

  it('for users in no cached organization (and in other ones): the read is stored', async () => {
    const org = organization(h, 10_000);
    const small = organization(h, 3);
    await query(h, small); // cached, and holds one of the users updated below
    const outsider = h.emulator.store.createUser({ emailAddress: 'outsider@x.test' });
    const big = await bigReadUnderWay(org);
    try {
      // Steady user.updated traffic while the read is under way.
      for (let i = 0; i < 5; i++) expect(await deliver(h, userUpdated(outsider.id))).toBe('processed');
      expect(await deliver(h, userUpdated(small.userIds[1] as string))).toBe('processed');
    } finally {
      big.release();
    }
    expect((await big.read).members).toMatchObject({ fromCache: false, totalCount: 10_000 });
    // A cold page is answered before the whole roster is read (in the background): wait for that read.
    await vi.waitFor(() => expect(idle(h)).toBe(true), { timeout: 10_000, interval: 10 });
    expect(readsOf(h, org.id)).toBe(20);
    const next = await query(h, org);
    expect(next.members).toMatchObject({ fromCache: true, totalCount: 10_000 });
    expect(readsOf(h, org.id)).toBe(20);
    // The organization that holds the updated user was invalidated (and re-read ahead).
    await vi.waitFor(() => expect(readsOf(h, small.id)).toBe(2), { timeout: 10_000, interval: 10 });
  });

  it('for a user the read holds: not stored; the next query reads again and shows the change', async () => {
    const org = organization(h, 10_000);
    const renamed = org.userIds[7_000] as string;
    const big = await bigReadUnderWay(org);
    try {
      await h.clerk.users.updateUser(renamed, { firstName: 'Renamed' }); // its user.updated is delivered
      await h.emulator.control.webhooksSettled();
    } finally {
      big.release();
    }
    expect((await big.read).members?.totalCount).toBe(10_000);
    // A cold page is answered before the whole roster is read (in the background): wait for that read.
    await vi.waitFor(() => expect(idle(h)).toBe(true), { timeout: 10_000, interval: 10 });
    const next = await query(h, org);
    expect(next.members).toMatchObject({ fromCache: false, totalCount: 10_000 });
    await vi.waitFor(() => expect(idle(h)).toBe(true), { timeout: 10_000, interval: 10 });
    expect(readsOf(h, org.id)).toBe(40);
    const page = await h.query<RosterData, Record<string, never>>(
      `{ organization(id: "${org.id}") { members(limit: 1, offset: 2999) { fromCache totalCount members { userId firstName } } } }`,
      { token: org.token },
    );
    // Newest first: the 7,001st member created is at offset 2,999.
    expect(page.data?.organization.members.members).toEqual([{ userId: renamed, firstName: 'Renamed' }]);
  });
});

describe('a waiter past its deadline, and reads nobody waits for', () => {
  const deadlineMs = 1000;
  // A request waits 1 s; a background re-read (refresh-ahead) up to 10 s, and Clerk's timeout is longer still, so
  // only the request's own deadline can end its wait. Clerk's answer is held at the gate until the request has been
  // answered: an answer that waited for Clerk could not come. That the wait ends exactly at the deadline is shown on
  // a fake clock in test/cache.test.ts; here, that the request's deadline reaches the cache, end to end.
  const config = { requestDeadlineMs: deadlineMs, clerkTimeoutMs: 60_000 };
  let h: Harness;
  let noGrace: Harness;
  beforeAll(async () => {
    [h, noGrace] = await Promise.all([
      startHarness({ emulator: { seed: 'empty' }, gateClerk: true, config }),
      startHarness({
        emulator: { seed: 'empty' },
        gateClerk: true,
        config: { ...config, cacheStaleGraceSeconds: 0 },
      }),
    ]);
  });
  afterAll(() => Promise.all([h.close(), noGrace.close()]));

  /**
   * A cached organization that Clerk then changes: its webhook invalidates our copy and refresh-ahead re-reads it in
   * the background; Clerk's answer to that re-read (read after the change) is held at the gate.
   */
  async function backgroundReadHeld(harness: Harness, members = 2) {
    const org = organization(harness, members);
    expect((await query(harness, org)).members?.fromCache).toBe(false);
    // A cold page is answered before the whole roster is read (in the background): wait for it to be cached.
    await vi.waitFor(() => expect(idle(harness)).toBe(true), { timeout: 10_000, interval: 10 });
    const path = `/v1/organizations/${org.id}/memberships`;
    const held = harness.gate?.hold(
      (requested, params) => requested === path && (params.get('offset') ?? '0') === '0',
    );
    if (!held) throw new Error('the harness gates Clerk');
    await addMember(harness, org.id);
    await held.answered;
    return { org, held };
  }

  /** Requests that joined a read under way, as /metrics counts them. */
  const joined = (harness: Harness) =>
    metricOf(harness.adminUrl, 'team_cache_reads_total', { part: 'members', outcome: 'inflight' });

  it('joining a slow read, it gets the stale copy at its deadline; the read goes on and is stored', async () => {
    const { org, held } = await backgroundReadHeld(h);
    const joinedBefore = await joined(h);
    try {
      // Answered while Clerk's answer is still held: at its deadline, not when Clerk answers.
      const result = await query(h, org);
      expect(result.members).toMatchObject({ fromCache: true, stale: true, totalCount: 2 });
      // It waited on the read under way (rather than starting its own, or not asking at all).
      expect(await joined(h)).toBe(joinedBefore + 1);
      expect(readsOf(h, org.id)).toBe(2);
    } finally {
      held.release();
    }
    // The read it gave up on was not: it goes on and is stored (had the request waited until that read ended, the
    // read would have failed and nothing would be stored).
    await vi.waitFor(() => expect(idle(h)).toBe(true), { timeout: 10_000, interval: 10 });
    expect((await query(h, org)).members).toMatchObject({ fromCache: true, stale: false, totalCount: 3 });
    expect(readsOf(h, org.id)).toBe(2);
  });

  it('with no stale copy allowed, it gets UPSTREAM_UNAVAILABLE at its deadline', async () => {
    const { org, held } = await backgroundReadHeld(noGrace);
    const joinedBefore = await joined(noGrace);
    try {
      // Answered while Clerk's answer is still held.
      const result = await query(noGrace, org);
      expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(await joined(noGrace)).toBe(joinedBefore + 1);
    } finally {
      held.release();
    }
    await vi.waitFor(() => expect(idle(noGrace)).toBe(true), { timeout: 10_000, interval: 10 });
    expect((await query(noGrace, org)).members).toMatchObject({
      fromCache: true,
      stale: false,
      totalCount: 3,
    });
    expect(readsOf(noGrace, org.id)).toBe(2);
  });

  it('a forced read queued behind a slow one, whose caller gave up, is never sent', async () => {
    const { org, held } = await backgroundReadHeld(h);
    try {
      // Waits for the read under way (which began before it), held at the gate: answered at its deadline.
      const forced = await query(h, org, true);
      expect(forced.members).toMatchObject({ fromCache: true, stale: true, totalCount: 2 });
    } finally {
      held.release();
    }
    await vi.waitFor(() => expect(idle(h)).toBe(true), { timeout: 10_000, interval: 10 });
    expect((await query(h, org)).members).toMatchObject({ fromCache: true, totalCount: 3 });
    // The warm-up read and the background re-read; the forced read nobody waited for any more was dropped.
    expect(readsOf(h, org.id)).toBe(2);
  });

  it('a background re-read superseded by a newer change asks for none of its remaining pages', async () => {
    // 1,200 members: page one, then two more pages once page one says how many there are.
    const { org, held } = await backgroundReadHeld(h, 1200);
    const abandoned = 'clerk_calls_refused_total{route="memberships",reason="abandoned"}';
    const abandonedBefore = await metric(h, abandoned);
    try {
      // Another change: the re-read under way (its page one already read) can no longer be stored, and nobody is
      // waiting for it. A new re-read follows.
      await addMember(h, org.id);
      await vi.waitFor(() => expect(h.app.cache.peekRoster(org.id)?.value.members.length).toBe(1202), {
        timeout: 10_000,
        interval: 10,
      });
    } finally {
      held.release();
    }
    // Page one of the superseded read arrives now: its two remaining pages are refused here, never sent.
    await vi.waitFor(
      async () => {
        expect(await metric(h, abandoned)).toBe(abandonedBefore + 2);
        expect(idle(h)).toBe(true);
      },
      { timeout: 10_000, interval: 10 },
    );
    // Warm-up (3 pages), the superseded re-read (page one only), the new re-read (3 pages).
    expect(readsOf(h, org.id)).toBe(3 + 1 + 3);
    expect(h.emulator.control.counters()[MEMBERSHIPS]).toBeGreaterThanOrEqual(7);
  });
});
