/**
 * `GET /v1/users/{user_id}/organization_memberships` through the SDK (`clerk.users.getOrganizationMembershipList`)
 * and raw: one user's memberships, newest first, each carrying its organization and the user's public data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClerkEmulator, DemoFixture } from '../src/contract.js';
import {
  api,
  clerkError,
  collectAllPages,
  expectClerkErrorResponse,
  expectKeys,
  expectSdkClass,
  MEMBERSHIP_KEYS,
  MEMBERSHIP_ORGANIZATION_KEYS,
  PUBLIC_USER_DATA_KEYS,
  type sdkFor,
  startDemoEmulator,
} from './helpers.js';

let emulator: ClerkEmulator;
let demo: DemoFixture;
let clerk: ReturnType<typeof sdkFor>;

beforeAll(async () => {
  ({ emulator, demo, clerk } = await startDemoEmulator());
});

afterAll(async () => {
  await emulator?.close();
});

/** A user in `count` new organizations (joined in that order), with an admin role in the first. */
function userInOrganizations(count: number) {
  const user = emulator.store.createUser({
    firstName: 'Multi',
    lastName: 'Org',
    emailAddress: `multi.${Math.random().toString(36).slice(2)}@orgs.test`,
  });
  const organizations = Array.from({ length: count }, (_, i) => {
    const org = emulator.store.createOrganization({ name: `Multi Org ${i} ${Math.random()}` });
    emulator.store.addMembership(org.id, user.id, i === 0 ? 'org:admin' : 'org:member');
    return org;
  });
  return { user, organizations };
}

describe('users.getOrganizationMembershipList (SDK)', () => {
  it('lists an acme member’s one membership, with the organization and the public user data', async () => {
    const userId = demo.acme.adminUserIds[0] as string;
    const list = await clerk.users.getOrganizationMembershipList({ userId });
    expect(list.totalCount).toBe(1);
    expect(list.data).toHaveLength(1);
    const [membership] = list.data;
    expectSdkClass(membership, 'OrganizationMembership');
    expect(membership?.id).toBe(
      emulator.store.listMemberships(demo.acme.organizationId).find((m) => m.userId === userId)?.id,
    );
    expect(membership?.role).toBe('org:admin');
    expectSdkClass(membership?.organization, 'Organization');
    expect(membership?.organization).toMatchObject({
      id: demo.acme.organizationId,
      slug: 'acme',
      membersCount: 8,
    });
    expect(typeof membership?.organization.name).toBe('string');
    expect(typeof membership?.organization.imageUrl).toBe('string');
    expect(membership?.publicUserData?.userId).toBe(userId);
    expect(membership?.publicUserData?.identifier).toBe(emulator.store.getUser(userId)?.emailAddress);
  });

  it('lists every organization of a user, newest membership first', async () => {
    const { user, organizations } = userInOrganizations(4);
    const list = await clerk.users.getOrganizationMembershipList({ userId: user.id, limit: 100 });
    expect(list.totalCount).toBe(4);
    expect(list.data.map((m) => m.organization.id)).toEqual(organizations.map((o) => o.id).reverse());
    expect(list.data.map((m) => m.role)).toEqual(['org:member', 'org:member', 'org:member', 'org:admin']);
    expect(list.data.every((m) => m.publicUserData?.userId === user.id)).toBe(true);
  });

  it('honours limit and offset; paging yields each membership once', async () => {
    const { user } = userInOrganizations(7);
    const all = await clerk.users.getOrganizationMembershipList({ userId: user.id, limit: 100 });
    const first = await clerk.users.getOrganizationMembershipList({ userId: user.id, limit: 3 });
    const second = await clerk.users.getOrganizationMembershipList({ userId: user.id, limit: 3, offset: 3 });
    expect(first.totalCount).toBe(7);
    expect(first.data.map((m) => m.id)).toEqual(all.data.slice(0, 3).map((m) => m.id));
    expect(second.data.map((m) => m.id)).toEqual(all.data.slice(3, 6).map((m) => m.id));
    const { items, pages } = await collectAllPages((offset) =>
      clerk.users.getOrganizationMembershipList({ userId: user.id, limit: 2, offset }),
    );
    expect(pages).toBe(4);
    expect(items.map((m) => m.id)).toEqual(all.data.map((m) => m.id));
  });

  it('defaults to 10 per page', async () => {
    const { user } = userInOrganizations(12);
    const page = await clerk.users.getOrganizationMembershipList({ userId: user.id });
    expect(page.data).toHaveLength(10);
    expect(page.totalCount).toBe(12);
  });

  it('the outsider and an unknown user have no memberships (Clerk documents no 404 here)', async () => {
    for (const userId of [demo.outsiderUserId, 'user_2doesnotexist00000000000']) {
      const list = await clerk.users.getOrganizationMembershipList({ userId });
      expect(list).toMatchObject({ data: [], totalCount: 0 });
    }
  });

  it('a removed membership leaves the list', async () => {
    const { user, organizations } = userInOrganizations(2);
    // The user is the only admin of the first organization, which Clerk would refuse to leave without one
    // (organization_minimum_permissions_needed): remove the member role in the second.
    await clerk.organizations.deleteOrganizationMembership({
      organizationId: organizations[1]?.id as string,
      userId: user.id,
    });
    const list = await clerk.users.getOrganizationMembershipList({ userId: user.id });
    expect(list.data.map((m) => m.organization.id)).toEqual([organizations[0]?.id]);
  });

  it('limit 501: 422 form_param_value_invalid', async () => {
    const err = await clerkError(
      clerk.users.getOrganizationMembershipList({ userId: demo.outsiderUserId, limit: 501 }),
    );
    expect(err.status).toBe(422);
    expect(err.errors[0]?.code).toBe('form_param_value_invalid');
  });
});

describe('users/{user_id}/organization_memberships on the wire (raw fetch)', () => {
  it('a {data, total_count} body whose memberships carry every wire key', async () => {
    const userId = demo.acme.memberUserIds[0] as string;
    const res = await api(emulator, `/users/${userId}/organization_memberships?limit=100`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { data: Record<string, unknown>[]; total_count: number };
    expect(Object.keys(body).sort()).toEqual(['data', 'total_count']);
    expect(body.total_count).toBe(1);
    for (const membership of body.data) {
      expectKeys(membership, MEMBERSHIP_KEYS, 'membership');
      expect(membership.object).toBe('organization_membership');
      expectKeys(membership.organization, MEMBERSHIP_ORGANIZATION_KEYS, 'membership.organization');
      expect((membership.organization as Record<string, unknown>).id).toBe(demo.acme.organizationId);
      expectKeys(membership.public_user_data, PUBLIC_USER_DATA_KEYS, 'membership.public_user_data');
      expect((membership.public_user_data as Record<string, unknown>).user_id).toBe(userId);
    }
  });

  it('bad paging values: 422; no key: 401; counted under its route key', async () => {
    emulator.control.resetCounters();
    const path = `/users/${demo.outsiderUserId}/organization_memberships`;
    await expectClerkErrorResponse(await api(emulator, `${path}?limit=0`), 422, 'form_param_value_invalid');
    await expectClerkErrorResponse(await api(emulator, `${path}?offset=-1`), 422, 'form_param_value_invalid');
    await expectClerkErrorResponse(
      await api(emulator, path, { headers: { Authorization: 'Bearer sk_test_wrong' } }),
      401,
      'clerk_key_invalid',
    );
    expect(emulator.control.counters()['GET /v1/users/{user_id}/organization_memberships']).toBe(3);
  });
});
