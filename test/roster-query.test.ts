import { describe, expect, it } from 'vitest';
import { foldForSearch, INDEX_SLICE, queryMembers } from '../src/team/roster-query.js';
import { createRoster, type Member } from '../src/team/types.js';

let sequence = 0;
function member(
  firstName: string | null,
  lastName: string | null,
  email: string | null,
  extra: Partial<Member> = {},
) {
  sequence += 1;
  return {
    membershipId: `orgmem_${String(sequence).padStart(3, '0')}`,
    userId: `user_${sequence}`,
    firstName,
    lastName,
    email,
    imageUrl: null,
    role: 'org:member',
    permissions: [],
    // Newest first, like Clerk: later members get earlier dates here, so the roster's order is by join date desc.
    createdAt: new Date(Date.UTC(2026, 0, 1) - sequence * 60_000).toISOString(),
    ...extra,
  } satisfies Member;
}

const jose = member('José', 'Álvarez', 'jose@example.com', { role: 'org:admin' });
const muller = member('Anna', 'Müller', 'anna.mueller@example.com');
const blank = member(null, null, null);
const zoe = member('Zoë', 'Young', 'zoe@example.com', { role: 'billing:viewer' });
const emile = member('émile', 'Zola', 'EMILE@EXAMPLE.COM');
const roster = createRoster('org_test', [jose, muller, blank, zoe, emile]);
const ids = (members: readonly Member[]) => members.map((m) => m.firstName ?? '(blank)');

describe('search', () => {
  it('folds case and accents on both sides', async () => {
    expect(foldForSearch('ÉMILE Müller')).toBe('emile muller');
    expect(ids(await queryMembers(roster, { search: 'jose' }))).toEqual(['José']);
    expect(ids(await queryMembers(roster, { search: 'MÜLLER' }))).toEqual(['Anna']);
    expect(ids(await queryMembers(roster, { search: 'muller' }))).toEqual(['Anna']);
    expect(ids(await queryMembers(roster, { search: 'zoe' }))).toEqual(['Zoë']);
  });

  it('matches substrings of first name, last name or email, never across two fields', async () => {
    expect(ids(await queryMembers(roster, { search: 'example.com' }))).toEqual([
      'José',
      'Anna',
      'Zoë',
      'émile',
    ]);
    expect(ids(await queryMembers(roster, { search: 'lvar' }))).toEqual(['José']);
    expect(await queryMembers(roster, { search: 'joséálvarez' })).toEqual([]);
    expect(await queryMembers(roster, { search: 'josé álvarez' })).toEqual([]);
  });

  it('never across two members, each member once however often it matches, in the asked order', async () => {
    // jose's text ends "…example.com", anna's begins "anna": joined without a separator, "comanna" would match.
    expect(await queryMembers(roster, { search: 'comanna' })).toEqual([]);
    expect(await queryMembers(roster, { search: 'com\u0001anna' })).toEqual([]);
    expect(await queryMembers(roster, { search: 'a\u0000m' })).toEqual([]);
    // "an" is twice in Anna's text ("anna", "anna.mueller"): she is listed once.
    expect(ids(await queryMembers(roster, { search: 'an' }))).toEqual(['Anna']);
    expect(
      ids(await queryMembers(roster, { search: 'e', orderBy: { field: 'name', direction: 'desc' } })),
    ).toEqual(['Zoë', 'José', 'émile', 'Anna']);
  });

  it('a blank search is no search', async () => {
    expect(await queryMembers(roster, { search: '   ' })).toBe(roster.members);
  });
});

describe('role filter', () => {
  it('keeps members with any of the roles, in the asked order, combined with search', async () => {
    expect(ids(await queryMembers(roster, { roles: ['org:admin', 'billing:viewer'] }))).toEqual([
      'José',
      'Zoë',
    ]);
    expect(ids(await queryMembers(roster, { roles: ['org:admin'], search: 'anna' }))).toEqual([]);
    expect(await queryMembers(roster, { roles: [] })).toBe(roster.members);
  });
});

describe('order', () => {
  it('defaults to join date, newest first: the roster itself, not a copy', async () => {
    expect(await queryMembers(roster)).toBe(roster.members);
    expect(await queryMembers(roster, { orderBy: { field: 'joinedAt', direction: 'desc' } })).toBe(
      roster.members,
    );
    expect(ids(await queryMembers(roster, { orderBy: { field: 'joinedAt', direction: 'asc' } }))).toEqual(
      ids([...roster.members].reverse()),
    );
  });

  it('by name, folded, either direction, members without a name last in both', async () => {
    expect(ids(await queryMembers(roster, { orderBy: { field: 'name', direction: 'asc' } }))).toEqual([
      'Anna',
      'émile',
      'José',
      'Zoë',
      '(blank)',
    ]);
    expect(ids(await queryMembers(roster, { orderBy: { field: 'name', direction: 'desc' } }))).toEqual([
      'Zoë',
      'José',
      'émile',
      'Anna',
      '(blank)',
    ]);
  });

  it('by email, case-insensitive', async () => {
    expect(ids(await queryMembers(roster, { orderBy: { field: 'email', direction: 'asc' } }))).toEqual([
      'Anna',
      'émile',
      'José',
      'Zoë',
      '(blank)',
    ]);
  });

  it('ties fall back to join date (newest first), so pages never reshuffle', async () => {
    const twins = [
      member('Sam', 'Lee', 'a@x.io'),
      member('Sam', 'Lee', 'b@x.io'),
      member('Sam', 'Lee', 'c@x.io'),
    ];
    const ordered = await queryMembers(createRoster('org_twins', twins), {
      orderBy: { field: 'name', direction: 'desc' },
    });
    expect(ordered.map((m) => m.email)).toEqual(['a@x.io', 'b@x.io', 'c@x.io']);
  });

  it('is computed once per roster snapshot and order', async () => {
    const order = { field: 'name', direction: 'asc' } as const;
    expect(await queryMembers(roster, { orderBy: order })).toBe(
      await queryMembers(roster, { orderBy: { ...order } }),
    );
    const changed = createRoster('org_test', [...roster.members]);
    expect(await queryMembers(changed, { orderBy: order })).not.toBe(
      await queryMembers(roster, { orderBy: order }),
    );
  });
});

/** A big roster with accents, blanks and shared names, in Clerk's order (newest first). */
function bigRoster(size: number, id = 'org_big') {
  const first = ['José', 'Anna', 'ÉMILE', 'Zoë', 'John', null, 'Ångel', 'Mary'];
  const last = ['Müller', 'Smith', null, 'Ñúñez', 'Lee', 'Øster', 'Johnson'];
  return createRoster(
    id,
    Array.from({ length: size }, (_, i) => {
      const firstName = first[i % first.length] ?? null;
      const lastName = last[(i * 5) % last.length] ?? null;
      const email = i % 11 === 0 ? null : `${firstName ?? 'x'}.${lastName ?? 'y'}${i}@Example.COM`;
      return member(firstName, lastName, email, { role: i % 3 === 0 ? 'org:admin' : 'org:member' });
    }),
  );
}

/** Settles `promise`, counting the turns of the event loop (setImmediate rounds) other work got meanwhile. */
async function turnsUntil<T>(promise: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let settled = false;
  const tick = () => {
    if (settled) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const value = await promise;
  settled = true;
  return { value, turns };
}

describe('a big roster', () => {
  const fold = (text: string | null) => (text ? foldForSearch(text) : '');
  /** The plain answer: each field folded and searched on its own, sorted with the folded display name. */
  function plainFilter(members: readonly Member[], search: string, roles?: string[]) {
    const needle = foldForSearch(search);
    return members.filter(
      (m) =>
        [m.firstName, m.lastName, m.email].some((field) => fold(field).includes(needle)) &&
        (!roles || roles.includes(m.role)),
    );
  }
  function plainByName(members: readonly Member[], direction: 'asc' | 'desc') {
    const key = (m: Member) => fold([m.firstName, m.lastName].filter(Boolean).join(' '));
    return [...members].sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      if (ka !== kb) {
        if (ka === '' || kb === '') return ka === '' ? 1 : -1;
        return (ka < kb ? -1 : 1) * (direction === 'asc' ? 1 : -1);
      }
      return a.createdAt > b.createdAt ? -1 : a.createdAt < b.createdAt ? 1 : 0;
    });
  }

  it('answers like a plain filter and sort, across the slices it is prepared in', async () => {
    const roster = bigRoster(INDEX_SLICE * 3 + 7);
    // Join dates are unique here: oldest first is Clerk's order reversed.
    expect(await queryMembers(roster, { orderBy: { field: 'joinedAt', direction: 'asc' } })).toEqual(
      [...roster.members].reverse(),
    );
    const byEmail = (await queryMembers(roster, { orderBy: { field: 'email', direction: 'desc' } })).map(
      (m) => fold(m.email),
    );
    const withEmail = byEmail.filter(Boolean);
    expect(withEmail).toEqual([...withEmail].sort().reverse());
    expect(byEmail.slice(withEmail.length).every((email) => email === '')).toBe(true);
    for (const search of ['jose', 'MÜLLER', 'ñ', 'an', 'n.m', 'example.com', 'oster1', '9@', 'zz']) {
      expect(await queryMembers(roster, { search })).toEqual(plainFilter(roster.members, search));
      expect(await queryMembers(roster, { search, roles: ['org:admin'] })).toEqual(
        plainFilter(roster.members, search, ['org:admin']),
      );
      for (const direction of ['asc', 'desc'] as const) {
        expect(await queryMembers(roster, { search, orderBy: { field: 'name', direction } })).toEqual(
          plainFilter(plainByName(roster.members, direction), search),
        );
      }
    }
  });

  it('is prepared in slices, the event loop turning between them; a prepared roster answers at once', async () => {
    const slices = 10;
    const roster = bigRoster(INDEX_SLICE * slices);
    const first = await turnsUntil(queryMembers(roster, { search: 'anna' }));
    expect(first.value).toEqual(plainFilter(roster.members, 'anna'));
    // A turn between every two slices: other requests are served while a fresh snapshot is indexed.
    expect(first.turns).toBeGreaterThanOrEqual(slices - 1);
    expect((await turnsUntil(queryMembers(roster, { search: 'smith' }))).turns).toBe(0);
    // An order: its keys are taken in slices, then its own index is built in slices (two passes of turns).
    const byName = await turnsUntil(
      queryMembers(roster, { search: 'lee', orderBy: { field: 'email', direction: 'asc' } }),
    );
    expect(byName.turns).toBeGreaterThan(slices);
    // A patched snapshot (a new array, the same members but one) is indexed again, in slices too.
    const patched = createRoster('org_big', [
      member('Zed', 'New', 'zed@example.com'),
      ...roster.members.slice(1),
    ]);
    const again = await turnsUntil(queryMembers(patched, { search: 'zed' }));
    expect(again.value.map((m) => m.email)).toEqual(['zed@example.com']);
    expect(again.turns).toBeGreaterThanOrEqual(slices - 1);
  });

  it('questions asked while a roster is prepared wait for the same build', async () => {
    const slices = 10;
    const roster = bigRoster(INDEX_SLICE * slices, 'org_shared');
    const first = turnsUntil(queryMembers(roster, { search: 'john' }));
    // Three turns in, a second question: a build of its own would take all the slices again.
    await new Promise((resolve) => setImmediate(() => setImmediate(() => setImmediate(resolve))));
    const second = await turnsUntil(queryMembers(roster, { search: 'mary', roles: ['org:member'] }));
    expect(second.value).toEqual(plainFilter(roster.members, 'mary', ['org:member']));
    expect(second.turns).toBeLessThan(slices - 2);
    expect((await first).value).toEqual(plainFilter(roster.members, 'john'));
  });
});
