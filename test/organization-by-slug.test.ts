/**
 * `organizationBySlug(slug)`: what a team page's URL names, resolved from the caller's own membership list and then
 * authorized like `organization(id)`. An unknown slug and another tenant's answer alike, after the same Clerk
 * reads, so slugs cannot be probed; nothing of the asked-for organization is read for a non-member.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrganizationBySlug } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

describe('organizationBySlug', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 30_000);
  afterAll(async () => {
    await h?.close();
  });

  /** The Clerk calls (route keys, in order) `run` made. */
  async function clerkCallsOf<T>(run: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
    const since = h.emulator.control.requestLog().length;
    const result = await run();
    return {
      result,
      calls: h.emulator.control
        .requestLog()
        .slice(since)
        .map((entry) => entry.route),
    };
  }

  /** A caller nobody has asked about yet (their membership list is cold), not naming the organization in the token. */
  function coldCaller() {
    const team = seedTeam(h.emulator, { admins: 1, members: 1, tokens: { active: false } });
    return { team, token: team.admin.token };
  }

  const bySlug = (token: string, slug: string) => h.query(OrganizationBySlug, { token, variables: { slug } });

  it("answers the caller's own organization by its slug, with the reads organization(id) makes and no other", async () => {
    const { team, token } = coldCaller();
    const { result, calls } = await clerkCallsOf(() =>
      h.query(`query ($slug: String!) { organizationBySlug(slug: $slug) { id name slug } }`, {
        token,
        variables: { slug: team.organization.slug },
      }),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      organizationBySlug: {
        id: team.organizationId,
        name: team.organization.name,
        slug: team.organization.slug,
      },
    });
    // One read of the caller's own list, as organization(id) makes for a caller the token does not vouch for.
    expect(calls).toEqual(['GET /v1/users/{user_id}/organization_memberships']);
    const other = coldCaller();
    const byId = await clerkCallsOf(() =>
      h.query(`query ($id: ID!) { organization(id: $id) { id name slug } }`, {
        token: other.token,
        variables: { id: other.team.organizationId },
      }),
    );
    expect(byId.calls).toEqual(calls);

    const members = await bySlug(token, team.organization.slug);
    expect(members.data?.organizationBySlug?.members.totalCount).toBe(2);
  });

  it("another tenant's slug and an unknown slug get the same FORBIDDEN, after the same Clerk calls", async () => {
    const foreign = seedTeam(h.emulator, { admins: 1 });
    const askers = [coldCaller(), coldCaller()];
    const [a, b] = askers as [ReturnType<typeof coldCaller>, ReturnType<typeof coldCaller>];
    const toForeign = await clerkCallsOf(() => bySlug(a.token, foreign.organization.slug));
    const toUnknown = await clerkCallsOf(() => bySlug(b.token, 'no-such-organization-anywhere'));
    for (const { result } of [toForeign, toUnknown]) {
      expect(result.status).toBe(200);
      expect(result.data).toEqual({ organizationBySlug: null });
      expect(result.errors?.map((error) => [error.extensions?.code, error.path])).toEqual([
        ['FORBIDDEN', ['organizationBySlug']],
      ]);
    }
    expect(toForeign.result.errors).toEqual(toUnknown.result.errors);
    expect(toForeign.calls).toEqual(toUnknown.calls);
    expect(toForeign.calls).toEqual(['GET /v1/users/{user_id}/organization_memberships']);
    // Nothing of the foreign organization was read.
    const log = h.emulator.control.requestLog();
    expect(log.filter((entry) => entry.path.includes(foreign.organizationId))).toEqual([]);
  });

  it('a removed member is refused by slug as by ID, once the removal is heard', async () => {
    const team = seedTeam(h.emulator, { admins: 1, members: 1, tokens: { active: false } });
    const member = team.members[0];
    const token = member?.token as string;
    expect((await bySlug(token, team.organization.slug)).errors).toBeUndefined();
    await h.clerk.organizations.deleteOrganizationMembership({
      organizationId: team.organizationId,
      userId: member?.userId as string,
    });
    await h.emulator.control.webhooksSettled();
    const refused = await bySlug(token, team.organization.slug);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.data).toEqual({ organizationBySlug: null });
  });

  it('refuses a slug that cannot be one with BAD_USER_INPUT, before any Clerk call; no token is UNAUTHENTICATED', async () => {
    const { token } = coldCaller();
    for (const slug of [
      '',
      'Acme',
      '-acme',
      'acme/../x',
      'acme?x=1',
      'acme corp',
      'ac%2Fme',
      'é',
      'a'.repeat(257),
    ]) {
      const { result, calls } = await clerkCallsOf(() => bySlug(token, slug));
      expect(
        result.errors?.map((error) => [error.extensions?.code, error.extensions?.argumentName]),
        slug,
      ).toEqual([['BAD_USER_INPUT', 'slug']]);
      expect(calls, slug).toEqual([]);
    }
    expect((await bySlug(token, 'a'.repeat(256))).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const anonymous = await h.query(OrganizationBySlug, { token: null, variables: { slug: 'acme' } });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('organizationBySlug, Clerk ahead of its webhooks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // Held for the whole block: the server hears of no change but through its own reads.
    h.emulator.control.setWebhookDelivery({ delayMs: 10 * 60_000 });
  }, 30_000);
  afterAll(async () => {
    await h?.close();
  });

  it('is authorized like organization(id): a fresher roster without the caller outweighs their older list', async () => {
    const team = seedTeam(h.emulator, { admins: 1, members: 1, tokens: { active: false } });
    const member = team.members[0] as { userId: string; token: string };
    const bySlug = () =>
      h.query(OrganizationBySlug, { token: member.token, variables: { slug: team.organization.slug } });
    expect((await bySlug()).errors).toBeUndefined(); // the member's list is now cached, with the organization
    await h.clerk.organizations.deleteOrganizationMembership({
      organizationId: team.organizationId,
      userId: member.userId,
    });
    // An admin's forced read: the roster, newer than the member's list, no longer holds them.
    const forced = await h.query(
      `query ($id: ID!) { organization(id: $id) { members(forceRefresh: true) { totalCount } } }`,
      { token: team.admin.token, variables: { id: team.organizationId } },
    );
    expect(forced.data).toEqual({ organization: { members: { totalCount: 1 } } });
    const byId = await h.query(`query ($id: ID!) { organization(id: $id) { id } }`, {
      token: member.token,
      variables: { id: team.organizationId },
    });
    expect(byId.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await bySlug()).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
