import { describe, expect, it } from 'vitest';
import { foldForSearch, queryMembers } from '../src/team/roster-query.js';
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
  it('folds case and accents on both sides', () => {
    expect(foldForSearch('ÉMILE Müller')).toBe('emile muller');
    expect(ids(queryMembers(roster, { search: 'jose' }))).toEqual(['José']);
    expect(ids(queryMembers(roster, { search: 'MÜLLER' }))).toEqual(['Anna']);
    expect(ids(queryMembers(roster, { search: 'muller' }))).toEqual(['Anna']);
    expect(ids(queryMembers(roster, { search: 'zoe' }))).toEqual(['Zoë']);
  });

  it('matches substrings of first name, last name or email, never across two fields', () => {
    expect(ids(queryMembers(roster, { search: 'example.com' }))).toEqual(['José', 'Anna', 'Zoë', 'émile']);
    expect(ids(queryMembers(roster, { search: 'lvar' }))).toEqual(['José']);
    expect(queryMembers(roster, { search: 'joséálvarez' })).toEqual([]);
    expect(queryMembers(roster, { search: 'josé álvarez' })).toEqual([]);
  });

  it('never across two members, each member once however often it matches, in the asked order', () => {
    // jose's text ends "…example.com", anna's begins "anna": joined without a separator, "comanna" would match.
    expect(queryMembers(roster, { search: 'comanna' })).toEqual([]);
    expect(queryMembers(roster, { search: 'com\u0001anna' })).toEqual([]);
    expect(queryMembers(roster, { search: 'a\u0000m' })).toEqual([]);
    // "an" is twice in Anna's text ("anna", "anna.mueller"): she is listed once.
    expect(ids(queryMembers(roster, { search: 'an' }))).toEqual(['Anna']);
    expect(ids(queryMembers(roster, { search: 'e', orderBy: { field: 'name', direction: 'desc' } }))).toEqual(
      ['Zoë', 'José', 'émile', 'Anna'],
    );
  });

  it('a blank search is no search', () => {
    expect(queryMembers(roster, { search: '   ' })).toBe(roster.members);
  });
});

describe('role filter', () => {
  it('keeps members with any of the roles, in the asked order, combined with search', () => {
    expect(ids(queryMembers(roster, { roles: ['org:admin', 'billing:viewer'] }))).toEqual(['José', 'Zoë']);
    expect(ids(queryMembers(roster, { roles: ['org:admin'], search: 'anna' }))).toEqual([]);
    expect(queryMembers(roster, { roles: [] })).toBe(roster.members);
  });
});

describe('order', () => {
  it('defaults to join date, newest first: the roster itself, not a copy', () => {
    expect(queryMembers(roster)).toBe(roster.members);
    expect(queryMembers(roster, { orderBy: { field: 'joinedAt', direction: 'desc' } })).toBe(roster.members);
    expect(ids(queryMembers(roster, { orderBy: { field: 'joinedAt', direction: 'asc' } }))).toEqual(
      ids([...roster.members].reverse()),
    );
  });

  it('by name, folded, either direction, members without a name last in both', () => {
    expect(ids(queryMembers(roster, { orderBy: { field: 'name', direction: 'asc' } }))).toEqual([
      'Anna',
      'émile',
      'José',
      'Zoë',
      '(blank)',
    ]);
    expect(ids(queryMembers(roster, { orderBy: { field: 'name', direction: 'desc' } }))).toEqual([
      'Zoë',
      'José',
      'émile',
      'Anna',
      '(blank)',
    ]);
  });

  it('by email, case-insensitive', () => {
    expect(ids(queryMembers(roster, { orderBy: { field: 'email', direction: 'asc' } }))).toEqual([
      'Anna',
      'émile',
      'José',
      'Zoë',
      '(blank)',
    ]);
  });

  it('ties fall back to join date (newest first), so pages never reshuffle', () => {
    const twins = [
      member('Sam', 'Lee', 'a@x.io'),
      member('Sam', 'Lee', 'b@x.io'),
      member('Sam', 'Lee', 'c@x.io'),
    ];
    const ordered = queryMembers(createRoster('org_twins', twins), {
      orderBy: { field: 'name', direction: 'desc' },
    });
    expect(ordered.map((m) => m.email)).toEqual(['a@x.io', 'b@x.io', 'c@x.io']);
  });

  it('is computed once per roster snapshot and order', () => {
    const order = { field: 'name', direction: 'asc' } as const;
    expect(queryMembers(roster, { orderBy: order })).toBe(queryMembers(roster, { orderBy: { ...order } }));
    const changed = createRoster('org_test', [...roster.members]);
    expect(queryMembers(changed, { orderBy: order })).not.toBe(queryMembers(roster, { orderBy: order }));
  });
});
