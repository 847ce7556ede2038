/**
 * The API that comes with authorization from fresh evidence (issue 9), over real HTTP: the caller's organizations
 * from their own membership list, an organization's own details from data already cached, and variable errors
 * with a code.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MyOrganizations, OrganizationCard, Page } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, listPath, readsOf, rosterPath, startHarness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** A user who is an admin of one new organization and a member of another (joined in that order). */
function userInTwoOrganizations() {
  const suffix = randomBytes(3).toString('hex');
  const user = h.emulator.store.createUser({
    firstName: 'Two',
    lastName: 'Hats',
    emailAddress: `two.hats.${suffix}@orgs.test`,
  });
  const first = seedTeam(h.emulator, {
    name: `First ${suffix}`,
    admins: 0,
    members: 2,
    join: [{ userId: user.id, role: 'org:admin' }],
  }).organization;
  const second = seedTeam(h.emulator, {
    name: `Second ${suffix}`,
    admins: 0,
    members: 5,
    join: [{ userId: user.id, role: 'org:member' }],
  }).organization;
  return { user, first, second };
}

describe('viewer.organizations', () => {
  it('lists every organization of the caller from one cached membership-list read', async () => {
    const { user, first, second } = userInTwoOrganizations();
    const token = h.emulator.mintToken({ userId: user.id });
    h.emulator.control.resetCounters();
    const result = await h.query(MyOrganizations, { token });
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer.organizations).toEqual([
      {
        id: second.id,
        name: second.name,
        slug: second.slug,
        imageUrl: second.imageUrl,
        role: 'org:member',
        membersCount: 6,
      },
      {
        id: first.id,
        name: first.name,
        slug: first.slug,
        imageUrl: first.imageUrl,
        role: 'org:admin',
        membersCount: 3,
      },
    ]);
    await h.query(MyOrganizations, { token });
    expect(readsOf(h, listPath(user.id))).toEqual({ [listPath(user.id)]: 1 });
  });

  it('is empty for a user in no organization', async () => {
    const token = h.emulator.mintToken({ userId: h.emulator.demo?.outsiderUserId as string });
    expect((await h.query(MyOrganizations, { token })).data?.viewer.organizations).toEqual([]);
  });

  it('drops an organization once the removal’s webhook is answered, and shows a new one after its webhook', async () => {
    const { user, first, second } = userInTwoOrganizations();
    const token = h.emulator.mintToken({ userId: user.id });
    expect((await h.query(MyOrganizations, { token })).data?.viewer.organizations).toHaveLength(2);

    await h.clerk.organizations.deleteOrganizationMembership({ organizationId: second.id, userId: user.id });
    await h.emulator.control.webhooksSettled();
    const ids = async () =>
      (await h.query(MyOrganizations, { token })).data?.viewer.organizations.map(
        (organization) => organization.id,
      );
    expect(await ids()).toEqual([first.id]);

    const third = h.emulator.store.createOrganization({ name: `Third ${randomBytes(3).toString('hex')}` });
    await h.clerk.organizations.createOrganizationMembership({
      organizationId: third.id,
      userId: user.id,
      role: 'org:member',
    });
    await h.emulator.control.webhooksSettled();
    expect(await ids()).toEqual([third.id, first.id]);
  });
});

describe('Organization name, slug, imageUrl, membersCount', () => {
  it('come from what authorization already read: no Clerk call beyond the roster or membership list', async () => {
    const { user, first, second } = userInTwoOrganizations();
    const expected = (organization: typeof first, membersCount: number) => ({
      id: organization.id,
      name: organization.name,
      slug: organization.slug,
      imageUrl: organization.imageUrl,
      membersCount,
      members: { totalCount: membersCount },
    });

    // Token naming the organization: let in by the claim; the roster read for members carries the rest.
    h.emulator.control.resetCounters();
    const byClaim = await h.query(OrganizationCard, {
      token: h.emulator.mintToken({ userId: user.id, orgId: first.id }),
      variables: { id: first.id },
    });
    expect(byClaim.data?.organization).toEqual(expected(first, 3));
    expect(readsOf(h, rosterPath(first.id), listPath(user.id))).toEqual({
      [rosterPath(first.id)]: 1,
      [listPath(user.id)]: 0,
    });

    // No claim: let in by the membership list (one read), which also carries the details.
    h.emulator.control.resetCounters();
    const token = h.emulator.mintToken({ userId: user.id });
    const byList = await h.query(OrganizationCard, { token, variables: { id: second.id } });
    expect(byList.data?.organization).toEqual(expected(second, 6));
    expect(readsOf(h, rosterPath(second.id), listPath(user.id))).toEqual({
      [rosterPath(second.id)]: 1,
      [listPath(user.id)]: 1,
    });

    // Both cached now: nothing is read again.
    h.emulator.control.resetCounters();
    for (const organization of [first, second]) {
      await h.query(OrganizationCard, { token, variables: { id: organization.id } });
    }
    expect(readsOf(h, rosterPath(first.id), rosterPath(second.id), listPath(user.id))).toEqual({
      [rosterPath(first.id)]: 0,
      [rosterPath(second.id)]: 0,
      [listPath(user.id)]: 0,
    });
  });
});

describe('variable errors', () => {
  it('a variable that does not coerce to its type, or a missing required one, is BAD_USER_INPUT', async () => {
    const token = h.emulator.mintToken({ userId: h.emulator.demo?.outsiderUserId as string });
    const id = h.emulator.demo?.acme.organizationId as string;
    h.emulator.control.resetCounters();
    const notAnInt = await h.query(Page, { token, variables: { id, limit: 'abc' as unknown as number } });
    expect(notAnInt.data ?? null).toBeNull();
    expect(notAnInt.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(notAnInt.errors?.[0]?.message).toMatch(/Variable "\$limit" got invalid value "abc"/);

    const missing = await h.query(Page, { token, variables: {} as { id: string } });
    expect(missing.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(missing.errors?.[0]?.message).toMatch(/Variable "\$id" of required type "ID!" was not provided/);
    const outsider = h.emulator.demo?.outsiderUserId as string;
    expect(readsOf(h, rosterPath(id), listPath(outsider))).toEqual({
      [rosterPath(id)]: 0,
      [listPath(outsider)]: 0,
    });
  });
});
