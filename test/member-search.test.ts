/**
 * members(search, roles, orderBy) over real HTTP against the emulator: the answers equal a straightforward filter
 * of a fresh Clerk read of the 2,500-member demo organization, a warm roster answers them with no Clerk call, and
 * bad arguments are BAD_USER_INPUT before anything is read.
 */
import type { ClerkClient } from '@clerk/backend';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';
import { subscribe } from './helpers/live.js';

const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';

let h: Harness;
let organizationId = '';
let token = '';
beforeAll(async () => {
  h = await startHarness();
  organizationId = h.emulator.demo?.initech.organizationId as string;
  // Accents and case the generated (ASCII) names lack.
  for (const [firstName, lastName] of [
    ['José', 'Müller'],
    ['ÉMILE', 'Zola'],
    ['Zoë', 'Ångström'],
  ] as const) {
    const user = h.emulator.store.createUser({
      firstName,
      lastName,
      emailAddress: `${lastName.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()}@initech.test`,
    });
    h.emulator.store.addMembership(organizationId, user.id, 'org:admin');
  }
  const admin = h.emulator.store.listMemberships(organizationId).find((m) => m.role === 'org:admin');
  token = h.emulator.mintToken({ userId: admin?.userId as string, orgId: organizationId });
});
afterAll(() => h.close());

interface Member {
  membershipId: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  role: string;
  createdAt: string;
}
interface Page {
  fromCache: boolean;
  totalCount: number;
  members: Member[];
}
type Args = {
  limit?: number;
  offset?: number;
  search?: string | null;
  roles?: string[] | null;
  orderBy?: { field: 'JOINED_AT' | 'NAME' | 'EMAIL'; direction?: 'ASC' | 'DESC' } | null;
};

const QUERY = `query Search($id: ID!, $limit: Int, $offset: Int, $search: String, $roles: [String!], $orderBy: MemberOrder) {
  organization(id: $id) {
    members(limit: $limit, offset: $offset, search: $search, roles: $roles, orderBy: $orderBy) {
      fromCache totalCount members { membershipId firstName lastName email role createdAt }
    }
  }
}`;

const ask = (args: Args, id = organizationId, as = token) =>
  h.query<{ organization: { members: Page } }, Args & { id: string }>(QUERY, {
    token: as,
    variables: { id, ...args },
  });

async function search(args: Args, id = organizationId, as = token): Promise<Page> {
  const result = await ask(args, id, as);
  expect(result.errors).toBeUndefined();
  return result.data?.organization.members as Page;
}

/** Every membership, straight from Clerk (pages of 500, Clerk's order), as the API shows members. */
async function freshClerkRead(clerk: ClerkClient): Promise<Member[]> {
  const all: Member[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await clerk.organizations.getOrganizationMembershipList({
      organizationId,
      limit: 500,
      offset,
    });
    for (const m of page.data) {
      all.push({
        membershipId: m.id,
        firstName: m.publicUserData?.firstName || null,
        lastName: m.publicUserData?.lastName || null,
        email: m.publicUserData?.identifier || null,
        role: m.role,
        createdAt: new Date(m.createdAt).toISOString(),
      });
    }
    if (offset + 500 >= page.totalCount) break;
  }
  return all;
}

/** Clerk reads of this organization's roster since `countingSince` (another test's may go on in the background). */
let countingSince = 0;
const rosterReadsOf = (id: string) =>
  h.emulator.control
    .requestLog()
    .filter((entry) => entry.route === MEMBERSHIPS && entry.path.includes(id) && entry.at >= countingSince)
    .length;

const fold = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const matches = (member: Member, needle: string) =>
  [member.firstName, member.lastName, member.email].some(
    (field) => field && fold(field).includes(fold(needle)),
  );
const nameOf = (member: Member) => fold([member.firstName, member.lastName].filter(Boolean).join(' '));

describe('members(search, roles, orderBy)', () => {
  it('equals a straightforward filter of a fresh Clerk read, and a warm roster answers with no Clerk call', async () => {
    const clerk = await freshClerkRead(h.clerk);
    expect(clerk).toHaveLength(2503);
    // Warms the roster: a filtered page waits for the whole roster read (a plain cold page would not).
    expect((await search({ roles: ['org:admin', 'org:member'], limit: 1 })).totalCount).toBe(2503);
    countingSince = Date.now();

    const cases: { args: Args; expected: Member[] }[] = [
      { args: { search: 'jose', limit: 500 }, expected: clerk.filter((m) => matches(m, 'jose')) },
      { args: { search: 'MÜLLER', limit: 500 }, expected: clerk.filter((m) => matches(m, 'muller')) },
      { args: { search: 'angstrom' }, expected: clerk.filter((m) => matches(m, 'angstrom')) },
      {
        args: { search: '  an  ', limit: 500 },
        expected: clerk.filter((m) => matches(m, 'an')).slice(0, 500),
      },
      { args: { roles: ['org:admin'], limit: 500 }, expected: clerk.filter((m) => m.role === 'org:admin') },
      {
        args: { search: 'son', roles: ['org:member'], offset: 10, limit: 30 },
        expected: clerk.filter((m) => m.role === 'org:member' && matches(m, 'son')).slice(10, 40),
      },
      {
        args: {
          roles: ['org:admin', 'org:member'],
          orderBy: { field: 'JOINED_AT', direction: 'ASC' },
          limit: 7,
        },
        expected: [...clerk].reverse().slice(0, 7),
      },
    ];
    for (const { args, expected } of cases) {
      const page = await search(args);
      expect(page.fromCache, JSON.stringify(args)).toBe(true);
      expect(page.members, JSON.stringify(args)).toEqual(expected);
    }
    // Counts are of every match, not of the page.
    expect((await search({ search: 'an', limit: 1 })).totalCount).toBe(
      clerk.filter((m) => matches(m, 'an')).length,
    );

    for (const [field, key, direction] of [
      ['NAME', nameOf, 'ASC'],
      ['NAME', nameOf, 'DESC'],
      ['EMAIL', (m: Member) => fold(m.email ?? ''), undefined],
    ] as const) {
      const ordered: Member[] = [];
      for (let offset = 0; offset < clerk.length; offset += 500) {
        ordered.push(
          ...(await search({ orderBy: { field, ...(direction ? { direction } : {}) }, limit: 500, offset }))
            .members,
        );
      }
      // Every member once, in the order's sense (ascending unless DESC asked).
      expect(ordered.map((m) => m.membershipId).sort()).toEqual(clerk.map((m) => m.membershipId).sort());
      const keys = ordered.map(key);
      const sorted = [...keys].sort();
      expect(keys).toEqual(direction === 'DESC' ? sorted.reverse() : sorted);
    }

    expect(rosterReadsOf(organizationId)).toBe(0);
  });

  it("the live event's members take the same arguments and answer like the query", async () => {
    const args: Args = { search: 'ü', roles: ['org:admin'], orderBy: { field: 'NAME', direction: 'DESC' } };
    const expected = await search(args);
    expect(expected.totalCount).toBeGreaterThan(0);
    const document =
      parse(`subscription Live($id: ID!, $search: String, $roles: [String!], $orderBy: MemberOrder) {
      teamChanged(organizationId: $id) {
        members(search: $search, roles: $roles, orderBy: $orderBy) {
          fromCache totalCount members { membershipId firstName lastName email role createdAt }
        }
      }
    }`) as TypedDocumentNode<{ teamChanged: { members: Page } }, Record<string, unknown>>;
    const live = subscribe(h.url, token, document, { id: organizationId, ...args });
    const refused = subscribe(h.url, token, document, { id: organizationId, search: 'x'.repeat(101) });
    try {
      const initial = (await live.next()).data?.teamChanged.members;
      expect(initial?.members).toEqual(expected.members);
      expect(initial?.totalCount).toBe(expected.totalCount);
      expect((await refused.next()).errors?.[0]).toMatchObject({
        path: ['teamChanged', 'members'],
        extensions: { code: 'BAD_USER_INPUT', argumentName: 'search' },
      });
    } finally {
      live.dispose();
      refused.dispose();
    }
  });

  it('refuses bad arguments with BAD_USER_INPUT before reading anything from Clerk', async () => {
    const { organizationId: id, admin } = seedTeam(h.emulator, { name: 'Search Refusals', admins: 3 });
    const own = admin.token;
    countingSince = Date.now();
    const bad: [Args, string][] = [
      [{ search: 'x'.repeat(101) }, 'search'],
      // NUL separates the fields a search looks in: it must not match across them.
      [{ search: 'smith\u0000jo' }, 'search'],
      [{ search: 'a\nb' }, 'search'],
      [{ roles: [] }, 'roles'],
      [{ roles: [''] }, 'roles'],
      [{ roles: ['org:admin', 'org: member'] }, 'roles'],
      [{ roles: ['r'.repeat(65)] }, 'roles'],
      [{ roles: Array.from({ length: 21 }, (_, i) => `org:role${i}`) }, 'roles'],
    ];
    for (const [args, argumentName] of bad) {
      const result = await ask(args, id, own);
      expect(result.errors?.[0]?.extensions, JSON.stringify(args)).toMatchObject({
        code: 'BAD_USER_INPUT',
        argumentName,
      });
    }
    // An unknown order field is the schema's own refusal.
    const unknownField = await ask({ orderBy: { field: 'SALARY' as 'NAME' } }, id, own);
    expect(unknownField.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(rosterReadsOf(id)).toBe(0);
    // A blank search is no search; 100 characters are fine.
    expect((await search({ search: '   ' }, id, own)).totalCount).toBe(3);
    expect((await search({ search: 'x'.repeat(100) }, id, own)).totalCount).toBe(0);
  });
});
