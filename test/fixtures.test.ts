/** The team fixture writes what its options say, in the order the suites rely on, and its tokens carry them. */
import { type RunningClerkEmulator, startClerkEmulator } from '@team-graphql/clerk-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';

let emulator: RunningClerkEmulator;
beforeAll(async () => {
  emulator = await startClerkEmulator({ seed: 'empty' });
});
afterAll(() => emulator.close());

/** A token's claims (the emulator's own tokens: no need to verify the signature here). */
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;

describe('seedTeam', () => {
  it('makes the admins, then the members, then the joined users, then the invitations', () => {
    const outsider = emulator.store.createUser({ emailAddress: 'joins@fixtures.test' });
    const team = seedTeam(emulator, {
      admins: 2,
      members: 3,
      join: [{ userId: outsider.id, role: 'org:admin' }],
      invitations: 2,
    });
    // The store lists memberships oldest first: the order of joining.
    const joined = emulator.store
      .listMemberships(team.organizationId)
      .map((membership) => [membership.userId, membership.role]);
    expect(joined).toEqual([
      ...team.admins.map((admin) => [admin.userId, 'org:admin']),
      ...team.members.map((member) => [member.userId, 'org:member']),
      [outsider.id, 'org:admin'],
    ]);
    expect(team.admin).toBe(team.admins[0]);
    expect(team.memberIds).toEqual(team.members.map((member) => member.userId));
    expect(team.joined.map((person) => person.userId)).toEqual([outsider.id]);
    expect(team.invitationIds).toHaveLength(2);
  });

  it('tokens name the organization for an hour unless told otherwise', () => {
    const team = seedTeam(emulator, { members: 1 });
    const admin = claimsOf(team.admin.token);
    expect(admin.sub).toBe(team.admin.userId);
    expect(JSON.stringify(admin)).toContain(team.organizationId);
    expect((admin.exp as number) - (admin.iat as number)).toBe(3600);
    expect(team.admin.token).toBe(team.admin.token); // minted once

    const member = team.members[0]?.userId as string;
    const none = claimsOf(
      team.tokenFor(member, { active: false, expiresInS: 60, sessionId: 'sess_fixture' }),
    );
    expect(JSON.stringify(none)).not.toContain(team.organizationId);
    expect((none.exp as number) - (none.iat as number)).toBe(60);
    expect(none.sid).toBe('sess_fixture');

    const old = claimsOf(seedTeam(emulator, { tokens: { issuedAtS: 1_000 } }).admin.token);
    expect(old.iat).toBe(1_000);
  });

  it('a team without admins says so when asked for its admin', () => {
    expect(() => seedTeam(emulator, { admins: 0, members: 1 }).admin).toThrow('no admin');
  });
});
