/**
 * Cold pages in one Clerk round trip, over real HTTP against the emulator (through the gate, which holds Clerk's
 * answers): the page is answered while every other call of the roster read is still held, it equals the warm page,
 * and a small organization costs one call in all. Calls are counted in the emulator's request log, never timed.
 */
import type { RequestLogEntry } from '@team-graphql/clerk-emulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, type HeldAnswer, startHarness } from './helpers/harness.js';

const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';
const BIG = 30_000;

let h: Harness;
/** Answers a test holds at the gate and leaves held: released after it, so its reads end. */
const held: (HeldAnswer | undefined)[] = [];
beforeAll(async () => {
  h = await startHarness({ gateClerk: true });
});
afterEach(() => {
  for (const hold of held.splice(0)) hold?.release();
});
afterAll(() => h.close());

interface Page {
  fromCache: boolean;
  totalCount: number;
  members: {
    membershipId: string;
    userId: string;
    firstName: string | null;
    email: string | null;
    role: string;
    createdAt: string;
  }[];
  pendingInvitations: { id: string }[] | null;
}

const PAGE = `query Page($id: ID!, $limit: Int, $offset: Int, $includePending: Boolean, $roles: [String!]) {
  organization(id: $id) {
    members(limit: $limit, offset: $offset, includePending: $includePending, roles: $roles) {
      fromCache totalCount
      members { membershipId userId firstName lastName email imageUrl role createdAt }
      pendingInvitations { id }
    }
  }
}`;

async function page(
  token: string,
  variables: { id: string; limit?: number; offset?: number; includePending?: boolean; roles?: string[] },
): Promise<Page> {
  const result = await h.query<{ organization: { members: Page } }, typeof variables>(PAGE, {
    token,
    variables,
  });
  expect(result.errors).toBeUndefined();
  return result.data?.organization.members as Page;
}

/** A new organization of `size` members (the first an admin) and a token for that admin, with it active. */
function organization(size: number, name: string) {
  const team = seedTeam(h.emulator, { name, members: size - 1 });
  return { id: team.organizationId, token: team.admin.token };
}

const pageCalls = (organizationId: string): RequestLogEntry[] =>
  h.emulator.control
    .requestLog()
    .filter((entry) => entry.route === MEMBERSHIPS && entry.path.includes(organizationId));
const limitOf = (entry: RequestLogEntry) => Number(entry.query.limit);
// The SDK leaves out a zero offset.
const offsetOf = (entry: RequestLogEntry) => Number(entry.query.offset ?? 0);

/**
 * The warm answer, after the background roster read has been let through: a roles filter naming every role waits
 * for the whole roster (the cold path is for plain pages only), then a plain page is a cache hit.
 */
async function warm(
  token: string,
  variables: { id: string; limit: number; offset: number; includePending?: boolean },
) {
  const whole = await page(token, { ...variables, roles: ['org:admin', 'org:member'] });
  const hit = await page(token, variables);
  expect(hit.fromCache).toBe(true);
  expect(whole.members).toEqual(hit.members);
  return hit;
}

describe('a cold page', () => {
  it(`of a ${BIG.toLocaleString('en')}-member organization: the first page needs only the roster read's first Clerk page, and equals the warm page`, async () => {
    const org = organization(BIG, 'Cold Big First');
    // Every page of the roster read after its first is held: the answer cannot have waited for any of them.
    const held = Array.from({ length: BIG / 500 - 1 }, (_, i) =>
      h.gate?.hold((path, query) => path.includes(org.id) && query.get('offset') === String((i + 1) * 500)),
    );
    const cold = await page(org.token, { id: org.id, limit: 20, offset: 0 });
    const answered = pageCalls(org.id).filter((entry) => offsetOf(entry) === 0);
    expect(answered.map((entry) => [limitOf(entry), offsetOf(entry)])).toEqual([[500, 0]]);
    expect(cold.fromCache).toBe(false);
    expect(cold.totalCount).toBe(BIG);
    expect(cold.members).toHaveLength(20);

    for (const hold of held) hold?.release();
    const hit = await warm(org.token, { id: org.id, limit: 20, offset: 0 });
    expect(cold.members).toEqual(hit.members);
    expect(cold.totalCount).toBe(hit.totalCount);
    // The roster was read once: its 60 pages, and no second call for the page.
    expect(pageCalls(org.id)).toHaveLength(BIG / 500);
  });

  it('deep in it (offset 29,980): its own Clerk page call answers it while the roster read is still held; same as warm, invitations too', async () => {
    const org = organization(BIG, 'Cold Big Deep');
    h.emulator.store.addInvitation(org.id, { emailAddress: 'deep.invitee@cold.test' });
    // The roster read (pages of 500) is held from its first page on.
    const held = Array.from({ length: BIG / 500 }, () =>
      h.gate?.hold(
        (path, query) =>
          path.includes(org.id) && path.endsWith('/memberships') && query.get('limit') === '500',
      ),
    );
    const cold = await page(org.token, { id: org.id, limit: 20, offset: 29_980, includePending: true });
    // Answered by exactly one call of its own, limit and offset passed through.
    const own = pageCalls(org.id).filter((entry) => limitOf(entry) !== 500);
    expect(own.map((entry) => [limitOf(entry), offsetOf(entry)])).toEqual([[20, 29_980]]);
    expect(cold.fromCache).toBe(false);
    expect(cold.totalCount).toBe(BIG);
    expect(cold.members).toHaveLength(20);
    expect(cold.pendingInvitations).toHaveLength(1);

    for (const hold of held) hold?.release();
    const hit = await warm(org.token, { id: org.id, limit: 20, offset: 29_980, includePending: true });
    expect(cold.members).toEqual(hit.members);
    expect(cold.pendingInvitations).toEqual(hit.pendingInvitations);
  });

  it("with the organization's name and membersCount: still only the roster read's first Clerk page before the answer", async () => {
    const org = organization(3_000, 'Cold Card');
    const later = [500, 1000, 1500, 2000, 2500].map((offset) =>
      h.gate?.hold((path, query) => path.includes(org.id) && query.get('offset') === String(offset)),
    );
    held.push(...later);
    const result = await h.query<
      { organization: { name: string; membersCount: number; members: { totalCount: number } } },
      { id: string }
    >(
      'query Card($id: ID!) { organization(id: $id) { name membersCount members(limit: 20) { totalCount } } }',
      { token: org.token, variables: { id: org.id } },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.organization).toEqual({
      name: 'Cold Card',
      membersCount: 3_000,
      members: { totalCount: 3_000 },
    });
    expect(pageCalls(org.id).filter((entry) => offsetOf(entry) === 0)).toHaveLength(1);
  });

  it('of a small organization costs one Clerk call in all: the page and the whole roster are the same call', async () => {
    const org = organization(40, 'Cold Small');
    const cold = await page(org.token, { id: org.id, limit: 10, offset: 25 });
    expect(cold.fromCache).toBe(false);
    const hit = await warm(org.token, { id: org.id, limit: 10, offset: 25 });
    expect(cold.members).toEqual(hit.members);
    expect(cold.totalCount).toBe(40);
    expect(pageCalls(org.id).map((entry) => [limitOf(entry), offsetOf(entry)])).toEqual([[500, 0]]);
  });

  it('straddling the first 500 (offset 490, limit 20) is its own call and still equals the warm page', async () => {
    const org = organization(1_200, 'Cold Straddle');
    const cold = await page(org.token, { id: org.id, limit: 20, offset: 490 });
    const hit = await warm(org.token, { id: org.id, limit: 20, offset: 490 });
    expect(cold.members).toEqual(hit.members);
    expect(
      pageCalls(org.id)
        .filter((entry) => limitOf(entry) === 20)
        .map(offsetOf),
    ).toEqual([490]);
  });

  it("its background roster read does not use up the caller's share of Clerk calls: four cold big organizations in a row are all answered", async () => {
    // Each roster read has 4 pages under way at a time (held here); the harness lets one user have 10 calls
    // waiting or under way. Counted for the user, the third organization's would already be refused.
    const user = h.emulator.store.createUser({ emailAddress: 'many.orgs@cold.test' });
    for (let i = 0; i < 4; i++) {
      const { organizationId: id, tokenFor } = seedTeam(h.emulator, {
        name: `Cold Share ${i}`,
        admins: 0,
        members: 2_999,
        join: [{ userId: user.id, role: 'org:admin' }],
      });
      const underWay = [500, 1000, 1500, 2000].map((offset) =>
        h.gate?.hold((path, query) => path.includes(id) && query.get('offset') === String(offset)),
      );
      const cold = await page(tokenFor(user.id), { id, limit: 20, offset: 0 });
      expect(cold.totalCount).toBe(3_000);
      await Promise.all(underWay.map((hold) => hold?.answered));
      held.push(...underWay);
    }
  });

  it('when a change lands between the page and the rest of the roster read, the next answers converge on Clerk', async () => {
    const org = organization(1_200, 'Cold Disagree');
    // The roster read's later pages are held: the change below lands after its first page, before the rest.
    const later = ['500', '1000'].map((offset) =>
      h.gate?.hold((path, query) => path.includes(org.id) && query.get('offset') === offset),
    );
    held.push(...later);
    const cold = await page(org.token, { id: org.id, limit: 20, offset: 0 });
    expect(cold.totalCount).toBe(1_200);
    await Promise.all(later.map((hold) => hold?.answered));
    const newcomer = h.emulator.store.createUser({ emailAddress: 'newcomer@cold.test', firstName: 'New' });
    await h.clerk.organizations.createOrganizationMembership({
      organizationId: org.id,
      userId: newcomer.id,
      role: 'org:member',
    });
    await h.emulator.control.webhooksSettled();
    for (const hold of later) hold?.release();

    // What Clerk says now, read directly.
    const clerk = await h.clerk.organizations.getOrganizationMembershipList({
      organizationId: org.id,
      limit: 20,
    });
    const expected = clerk.data.map((m) => m.id);
    expect(clerk.totalCount).toBe(1_201);
    const next = await page(org.token, { id: org.id, limit: 20, offset: 0 });
    expect(next.totalCount).toBe(1_201);
    expect(next.members.map((m) => m.membershipId)).toEqual(expected);
    // And once the roster is cached, it is the one read after the change (the one before it was never stored).
    const hit = await warm(org.token, { id: org.id, limit: 20, offset: 0 });
    expect(hit.totalCount).toBe(1_201);
    expect(hit.members.map((m) => m.membershipId)).toEqual(expected);
  });

  it('is refused to an outsider with FORBIDDEN, and nothing of the organization is read from Clerk for them', async () => {
    const org = organization(BIG, 'Cold Big Outsider');
    const outsider = h.emulator.demo?.outsiderUserId as string;
    for (const token of [
      h.emulator.mintToken({ userId: outsider }),
      // A token naming another organization as active proves nothing about this one.
      h.emulator.mintToken({ userId: outsider, orgId: h.emulator.demo?.acme.organizationId as string }),
    ]) {
      const result = await h.query(PAGE, { token, variables: { id: org.id, limit: 20, offset: 29_980 } });
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect(h.emulator.control.requestLog().filter((entry) => entry.path.includes(org.id))).toEqual([]);
  });
});

describe('a deep cold page past its deadline', () => {
  let d: Harness;
  beforeAll(async () => {
    // A request waits 1 s; Clerk's timeout is longer than the test may take, so only the deadline can end its wait.
    d = await startHarness({
      emulator: { seed: 'empty' },
      gateClerk: true,
      config: { requestDeadlineMs: 1000, clerkTimeoutMs: 60_000, cacheStaleGraceSeconds: 0 },
    });
  });
  afterAll(() => d.close());

  it('is answered UPSTREAM_UNAVAILABLE while its own Clerk call is still held; the roster is read on', async () => {
    const { organizationId: id, members } = seedTeam(d.emulator, {
      name: 'Cold Deadline',
      admins: 0,
      members: 1_200,
    });
    const token = members[0]?.token;
    const own = d.gate?.hold((path, query) => path.includes(id) && query.get('limit') === '20');
    try {
      const result = await d.query(PAGE, { token, variables: { id, limit: 20, offset: 1_000 } });
      expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      own?.release();
    }
    // The roster read in the background was not the request's: it is stored, and the same page is then a hit.
    const whole = await d.query(PAGE, {
      token,
      variables: { id, limit: 20, offset: 1_000, roles: ['org:member'] },
    });
    expect(whole.errors).toBeUndefined();
    const hit = await d.query<
      { organization: { members: Page } },
      { id: string; limit: number; offset: number }
    >(PAGE, { token, variables: { id, limit: 20, offset: 1_000 } });
    expect(hit.data?.organization.members).toMatchObject({ fromCache: true, totalCount: 1_200 });
  });
});
