/**
 * Authorization from fresh evidence (issue 9), tried as an attacker would, over real HTTP against the emulator:
 * a removed member loses access as soon as the removal's webhook has been answered (also while Clerk is down, and
 * for the token's whole lifetime), a re-added or newly added member gets in, an outsider probing thousands of IDs
 * costs one Clerk call and reads no roster, and an answer's size counts against the cost limit.
 *
 * We synchronize on events (webhook deliveries answered, emulator counters), never on sleeps; time is moved with
 * a fake Date (the server's clocks read Date.now late).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FORBIDDEN_MESSAGE } from '../src/graphql/errors.js';
import { MyOrganizations, Roster, TeamPage } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, listPath, metricOf, readsOf, rosterPath, startHarness } from './helpers/harness.js';

const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';
const USER_MEMBERSHIPS = 'GET /v1/users/{user_id}/organization_memberships';
const HOUR_S = 3600;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
afterEach(() => {
  vi.useRealTimers();
  h.emulator.control.clearFaults();
});

/** An organization made behind the server's back (store writes send no webhooks): an admin and `size - 1` members. */
function team(name: string, size = 4) {
  const seeded = seedTeam(h.emulator, { name, members: size - 1 });
  return {
    organizationId: seeded.organizationId,
    adminToken: seeded.admin.token,
    memberIds: seeded.memberIds,
    tokenFor: seeded.tokenFor,
  };
}

/** The three ways the team page is asked for: plain, forced past the cache, with pending invitations. */
const VARIANTS = [{}, { forceRefresh: true }, { includePending: true }] as const;

function expectForbidden(result: Awaited<ReturnType<Harness['query']>>) {
  expect(result.data ?? null).toBeNull();
  expect(result.errors?.map((error) => [error.message, error.extensions?.code])).toEqual([
    [FORBIDDEN_MESSAGE, 'FORBIDDEN'],
  ]);
}

async function teamPage(token: string, organizationId: string, variables: object = {}) {
  return h.query(TeamPage, { token, variables: { id: organizationId, limit: 50, ...variables } });
}

/** Deletes the membership through the SDK and waits until Clerk's webhook for it has been answered 2xx. */
async function removeThroughClerk(organizationId: string, userId: string) {
  const deleted = await h.clerk.organizations.deleteOrganizationMembership({ organizationId, userId });
  await h.emulator.control.webhooksSettled();
  const answered = h.emulator.control
    .deliveries()
    .filter(
      (attempt) => attempt.url.startsWith(h.url) && attempt.eventType === 'organizationMembership.deleted',
    );
  expect(answered.some((attempt) => attempt.status === 200)).toBe(true);
  return deleted;
}

async function addThroughClerk(organizationId: string, userId: string) {
  await h.clerk.organizations.createOrganizationMembership({ organizationId, userId, role: 'org:member' });
  await h.emulator.control.webhooksSettled();
}

describe('a removed member', () => {
  it.each([1, 2] as const)(
    'with a 1-hour token (v%i claims) is FORBIDDEN from the first query after the webhook was answered, and stays so',
    async (claimsVersion) => {
      const { organizationId, adminToken, memberIds, tokenFor } = team('Removal Co');
      const userId = memberIds[0] as string;
      const token = tokenFor(userId, { claimsVersion });
      for (const variables of VARIANTS) {
        const before = await teamPage(token, organizationId, variables);
        expect(before.errors).toBeUndefined();
        expect(before.data?.organization.members.members.map((member) => member.userId)).toContain(userId);
      }

      await removeThroughClerk(organizationId, userId);

      for (let round = 0; round < 3; round++) {
        for (const variables of VARIANTS) expectForbidden(await teamPage(token, organizationId, variables));
      }
      // The others are unaffected, and see the roster without them.
      const admin = await teamPage(adminToken, organizationId);
      expect(admin.data?.organization.members.members.map((member) => member.userId)).not.toContain(userId);
    },
  );

  it.each([
    ['their own membership list cached too', true],
    ['nothing of their own cached', false],
  ])(
    'is FORBIDDEN also when Clerk fails every read from before the removal on, through TTL + stale grace (%s)',
    async (_name, warmOwnList) => {
      const { organizationId, adminToken, memberIds, tokenFor } = team('Outage Co');
      const userId = memberIds[0] as string;
      const token = tokenFor(userId);
      // Warm what the server could later serve stale: the roster, the invitations, and maybe the member's own list.
      for (const variables of VARIANTS)
        expect((await teamPage(token, organizationId, variables)).errors).toBeUndefined();
      const ownOrganizations = async () =>
        (await h.query(MyOrganizations, { token })).data?.viewer.organizations.map(
          (organization) => organization.id,
        );
      if (warmOwnList) expect(await ownOrganizations()).toEqual([organizationId]);

      for (const route of [MEMBERSHIPS, USER_MEMBERSHIPS, 'GET /v1/organizations/{id}/invitations']) {
        h.emulator.control.injectFault({ route, kind: 'status503', fraction: 1 });
      }
      await removeThroughClerk(organizationId, userId);

      for (const variables of VARIANTS) expectForbidden(await teamPage(token, organizationId, variables));
      // Their own list, served stale while Clerk is down, no longer shows the organization either.
      if (warmOwnList) expect(await ownOrganizations()).toEqual([]);
      // Meanwhile a remaining member is served the copy the removal's webhook patched (no Clerk read needed): the
      // outage itself is not a denial.
      const admin = await h.query(Roster, { token: adminToken, variables: { id: organizationId } });
      expect(admin.data?.organization.members).toMatchObject({
        stale: false,
        fromCache: true,
        totalCount: 3,
      });

      // Past the TTL, every copy the server holds is stale, and served as such while the outage lasts; the removal
      // is remembered as long as they are.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + (300 + 60) * 1000);
      for (const variables of VARIANTS) expectForbidden(await teamPage(token, organizationId, variables));
      const later = await h.query(Roster, { token: adminToken, variables: { id: organizationId } });
      expect(later.data?.organization.members).toMatchObject({ stale: true, totalCount: 3 });
    },
  );

  it('removed and then added again (a new membership, its webhook): readable again with the same old token', async () => {
    const { organizationId, memberIds, tokenFor } = team('Readmission Co');
    const userId = memberIds[1] as string;
    const token = tokenFor(userId);
    expect((await teamPage(token, organizationId)).errors).toBeUndefined();

    await removeThroughClerk(organizationId, userId);
    expectForbidden(await teamPage(token, organizationId));

    await addThroughClerk(organizationId, userId);
    const back = await teamPage(token, organizationId);
    expect(back.errors).toBeUndefined();
    expect(back.data?.organization.members.members.map((member) => member.userId)).toContain(userId);
  });
});

describe('a new member', () => {
  it('whose token names the organization before the roster’s webhook arrived is let in (from their membership list)', async () => {
    const { organizationId, adminToken, tokenFor } = team('Newcomer Co');
    expect((await teamPage(adminToken, organizationId)).data?.organization.members.totalCount).toBe(4);
    // Joined in Clerk; the webhook has not arrived (a store write sends none), so the cached roster lacks them.
    const newcomer = h.emulator.store.createUser({
      firstName: 'Nova',
      lastName: 'Comer',
      emailAddress: `nova.${randomBytes(3).toString('hex')}@newcomer.test`,
    });
    h.emulator.store.addMembership(organizationId, newcomer.id, 'org:member');
    h.emulator.control.resetCounters();

    const token = tokenFor(newcomer.id);
    const result = await teamPage(token, organizationId);
    expect(result.errors).toBeUndefined();
    expect(result.data?.organization.members).toMatchObject({ fromCache: true, totalCount: 4 });
    // The cached roster, newer than the token and without them, outweighed the token's claim; their own
    // membership list (one read) showed the membership. The organization's roster was not read again.
    expect(readsOf(h, listPath(newcomer.id), rosterPath(organizationId))).toEqual({
      [listPath(newcomer.id)]: 1,
      [rosterPath(organizationId)]: 0,
    });
  });
});

describe('an outsider probing organization IDs', () => {
  let probe: Harness;
  beforeAll(async () => {
    probe = await startHarness();
  });
  afterAll(() => probe.close());

  const metric = (name: string, labels?: Record<string, string>) => metricOf(probe.adminUrl, name, labels);

  it('2,000 random IDs and every organization they are not in: all the same FORBIDDEN, one Clerk call, no roster cached', async () => {
    const { emulator } = probe;
    const demo = emulator.demo;
    if (!demo) throw new Error('the harness starts the demo seed');
    // Every seeded organization (the outsider is in none of them), the 2,500-member one included.
    const real = [demo.acme.organizationId, demo.globex.organizationId, demo.initech.organizationId];
    const token = emulator.mintToken({ userId: demo.outsiderUserId, expiresInS: HOUR_S });
    const random = Array.from({ length: 2000 }, () => `org_${randomBytes(14).toString('hex')}`);
    emulator.control.resetCounters();

    const ids = [...random, ...real];
    const answers: string[] = [];
    for (let i = 0; i < ids.length; i += 25) {
      const batch = ids.slice(i, i + 25);
      const results = await Promise.all(batch.map((id) => probe.query(Roster, { token, variables: { id } })));
      for (const result of results) {
        expectForbidden(result);
        answers.push(JSON.stringify(result.errors));
      }
    }
    expect(new Set(answers).size).toBe(1);

    // One Clerk call for the whole probe: the outsider's own (empty) membership list, read once and cached.
    expect(emulator.control.counters()).toEqual({ [USER_MEMBERSHIPS]: 1 });
    expect(await metric('team_cache_reads_total', { part: 'members' })).toBe(0);
    expect(await metric('team_cache_reads_total', { part: 'user_memberships', outcome: 'miss' })).toBe(1);
    expect(await metric('team_cache_entries')).toBe(1);
    expect(await metric('clerk_requests_total', { route: 'memberships' })).toBe(0);
  });
});

describe('answer size counts against the cost limit', () => {
  it('10 × members(limit: 500) is refused with QUERY_TOO_COMPLEX before anything is read; a normal team page is not', async () => {
    const { organizationId, adminToken } = team('Size Co');
    const aliases = Array.from(
      { length: 10 },
      (_, i) => `a${i}: organization(id: "${organizationId}") { members(limit: 500) { members { email } } }`,
    ).join('\n');
    h.emulator.control.resetCounters();
    const refused = await h.query(`{ ${aliases} }`, { token: adminToken });
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(refused.errors?.[0]?.message).toMatch(/5000 members; at most 1000/);
    const invitationsPath = `/v1/organizations/${organizationId}/invitations`;
    expect(readsOf(h, rosterPath(organizationId), invitationsPath)).toEqual({
      [rosterPath(organizationId)]: 0,
      [invitationsPath]: 0,
    });

    // The same through variables and a fragment.
    const viaVariables = await h.query(
      `query Big($id: ID!, $n: Int) { a: organization(id: $id) { ...M } b: organization(id: $id) { ...M } c: organization(id: $id) { ...M } }
       fragment M on Organization { members(limit: $n) { totalCount } }`,
      { token: adminToken, variables: { id: organizationId, n: 400 } },
    );
    expect(viaVariables.errors?.map((error) => error.extensions?.code)).toEqual(['QUERY_TOO_COMPLEX']);

    const page = await teamPage(adminToken, organizationId, { limit: 20, includePending: true });
    expect(page.errors).toBeUndefined();
    expect(page.data?.organization.members.totalCount).toBe(4);
    const whole = await h.query(Roster, { token: adminToken, variables: { id: organizationId } });
    expect(whole.errors).toBeUndefined();
  });
});
