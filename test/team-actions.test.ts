/**
 * Team actions over the real wire: the server, the emulator (Clerk's writes, its checks, its webhooks) and HTTP.
 * Webhooks are held back (delivered only when a test says so), so "visible at once" means visible before any
 * webhook. Every refusal is checked to have made no Clerk write.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'DELETE', 'PUT']);

/** The server and emulator of the current describe block. */
let harness: Harness;

/** A harness for the block; with `holdWebhooks`, Clerk's webhooks are never delivered while it runs. */
function useHarness({ holdWebhooks = false } = {}) {
  let own: Harness | undefined;
  beforeAll(async () => {
    own = await startHarness();
    // Held for the whole block (a held delivery cannot be released early): "visible at once" then cannot mean
    // "visible once the webhook came".
    if (holdWebhooks) own.emulator.control.setWebhookDelivery({ delayMs: 10 * 60_000 });
  }, 30_000);
  beforeEach(() => {
    if (own) harness = own;
  });
  afterAll(() => own?.close());
}

/** Clerk writes (and reads) the server made about `organizationId` since `since`. */
function clerkCallsSince(since: number, organizationId: string) {
  const log = harness.emulator.control
    .requestLog()
    .filter((entry) => entry.at >= since && entry.path.includes(organizationId));
  return {
    writes: log.filter((entry) => WRITE_METHODS.has(entry.method)).length,
    reads: log.filter((entry) => entry.method === 'GET').length,
  };
}

const PAGE = `
  fragment Page on Organization {
    seats { members pendingInvitations max available }
    members(limit: 100, includePending: true) {
      fromCache totalCount
      members { userId role email }
      pendingInvitations { id email role expiresAt }
    }
  }`;

const TEAM = `query Team($id: ID!) { organization(id: $id) { viewerPermissions ...Page } } ${PAGE}`;

interface PageData {
  viewerPermissions?: string[];
  seats: { members: number; pendingInvitations: number; max: number | null; available: number | null };
  members: {
    fromCache: boolean;
    totalCount: number;
    members: { userId: string; role: string; email: string | null }[];
    pendingInvitations: { id: string; email: string; role: string; expiresAt: string | null }[];
  };
}

const INVITE = `mutation Invite($org: ID!, $invitations: [InvitationInput!]!, $days: Int, $url: String) {
  inviteMembers(organizationId: $org, invitations: $invitations, expiresInDays: $days, redirectUrl: $url) {
    results { email errorCode errorMessage invitation { id email role } }
    organization { ...Page }
  }
} ${PAGE}`;
const UPDATE_ROLE = `mutation Role($org: ID!, $user: ID!, $role: String!) {
  updateMemberRole(organizationId: $org, userId: $user, role: $role) { organization { ...Page } }
} ${PAGE}`;
const REMOVE = `mutation Remove($org: ID!, $user: ID!) {
  removeMember(organizationId: $org, userId: $user) { organization { ...Page } }
} ${PAGE}`;
const LEAVE = `mutation Leave($org: ID!) { leaveOrganization(organizationId: $org) { organizationId } }`;
const REVOKE = `mutation Revoke($org: ID!, $id: ID!) {
  revokeInvitation(organizationId: $org, invitationId: $id) { organization { ...Page } }
} ${PAGE}`;
const RESEND = `mutation Resend($org: ID!, $id: ID!) {
  resendInvitation(organizationId: $org, invitationId: $id) { invitation { id email role } organization { ...Page } }
} ${PAGE}`;

type Vars = Record<string, unknown>;
const ask = <T>(document: string, token: string, variables: Vars, headers?: Record<string, string>) =>
  harness.query<T, Vars>(document, { token, variables, headers });
const codeOf = (response: { errors?: { extensions?: Record<string, unknown> }[] }) =>
  response.errors?.[0]?.extensions?.code;

describe('team actions: read-your-writes (no webhook is delivered)', () => {
  useHarness({ holdWebhooks: true });
  it('invites: sent ones are pending at once for every member, from the cache, before any webhook', async () => {
    const team = seedTeam(harness.emulator, { admins: 1, members: 2 });
    const reader = team.members[0];
    if (!reader) throw new Error('no member');
    // Warm the cache the way a Team page does.
    await ask(TEAM, reader.token, { id: team.organizationId });
    const since = Date.now();
    const memberEmail = (
      await ask<{ organization: PageData }>(TEAM, reader.token, { id: team.organizationId })
    ).data?.organization.members.members.find((member) => member.userId === reader.userId)?.email;
    const answer = await ask<{
      inviteMembers: {
        results: { email: string; errorCode: string | null; invitation: { id: string } | null }[];
        organization: PageData;
      };
    }>(INVITE, team.admin.token, {
      org: team.organizationId,
      invitations: [
        { email: 'New.Person@example.test', role: 'org:member' },
        { email: 'new.person@example.test', role: 'org:member' },
        { email: memberEmail, role: 'org:member' },
      ],
    });
    expect(answer.errors).toBeUndefined();
    const results = answer.data?.inviteMembers.results ?? [];
    // The duplicate address collapsed; the member's address is refused per item.
    expect(results.map((result) => [result.email, result.errorCode])).toEqual([
      ['New.Person@example.test', null],
      [memberEmail, 'ALREADY_MEMBER'],
    ]);
    const invitationId = results[0]?.invitation?.id;
    expect(answer.data?.inviteMembers.organization.members.pendingInvitations.map((i) => i.id)).toContain(
      invitationId,
    );
    expect(clerkCallsSince(since, team.organizationId).writes).toBe(1);

    const afterWrite = Date.now();
    const seen = await ask<{ organization: PageData }>(TEAM, reader.token, { id: team.organizationId });
    expect(seen.data?.organization.members.fromCache).toBe(true);
    expect(seen.data?.organization.members.pendingInvitations.map((i) => i.id)).toContain(invitationId);
    expect(seen.data?.organization.seats.pendingInvitations).toBe(1);
    expect(clerkCallsSince(afterWrite, team.organizationId)).toEqual({ writes: 0, reads: 0 });
  });

  it('a role change shows at once (0 Clerk reads), and the promoted member may manage', async () => {
    const team = seedTeam(harness.emulator, { admins: 1, members: 1 });
    const promoted = team.members[0];
    if (!promoted) throw new Error('no member');
    await ask(TEAM, promoted.token, { id: team.organizationId });
    const changed = await ask<{ updateMemberRole: { organization: PageData } }>(
      UPDATE_ROLE,
      team.admin.token,
      {
        org: team.organizationId,
        user: promoted.userId,
        role: 'org:admin',
      },
    );
    expect(changed.errors).toBeUndefined();
    const since = Date.now();
    const seen = await ask<{ organization: PageData }>(TEAM, promoted.token, { id: team.organizationId });
    expect(seen.data?.organization.members.members.find((m) => m.userId === promoted.userId)?.role).toBe(
      'org:admin',
    );
    expect(seen.data?.organization.viewerPermissions).toContain('org:sys_memberships:manage');
    expect(seen.data?.organization.members.fromCache).toBe(true);
    expect(clerkCallsSince(since, team.organizationId)).toEqual({ writes: 0, reads: 0 });
  });

  it('a removed member is refused on their very next request, before any webhook', async () => {
    const team = seedTeam(harness.emulator, { admins: 1, members: 1 });
    const removed = team.members[0];
    if (!removed) throw new Error('no member');
    expect((await ask(TEAM, removed.token, { id: team.organizationId })).errors).toBeUndefined();
    const answer = await ask<{ removeMember: { organization: PageData } }>(REMOVE, team.admin.token, {
      org: team.organizationId,
      user: removed.userId,
    });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.removeMember.organization.members.members.map((m) => m.userId)).not.toContain(
      removed.userId,
    );
    expect(codeOf(await ask(TEAM, removed.token, { id: team.organizationId }))).toBe('FORBIDDEN');
  });

  it('revoke and resend: the old invitation is gone and the new one pending, at once', async () => {
    const team = seedTeam(harness.emulator, { admins: 1, invitations: ['a@example.test', 'b@example.test'] });
    const [first, second] = team.invitationIds;
    const revoked = await ask<{ revokeInvitation: { organization: PageData } }>(REVOKE, team.admin.token, {
      org: team.organizationId,
      id: first,
    });
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data?.revokeInvitation.organization.members.pendingInvitations.map((i) => i.id)).toEqual([
      second,
    ]);
    const resent = await ask<{
      resendInvitation: { invitation: { id: string; email: string }; organization: PageData };
    }>(RESEND, team.admin.token, { org: team.organizationId, id: second });
    expect(resent.errors).toBeUndefined();
    const fresh = resent.data?.resendInvitation.invitation;
    expect(fresh?.email).toBe('b@example.test');
    expect(fresh?.id).not.toBe(second);
    expect(resent.data?.resendInvitation.organization.members.pendingInvitations.map((i) => i.id)).toEqual([
      fresh?.id,
    ]);
    // Revoking what is no longer pending is refused from the cache.
    const since = Date.now();
    expect(codeOf(await ask(REVOKE, team.admin.token, { org: team.organizationId, id: first }))).toBe(
      'NOT_FOUND',
    );
    expect(clerkCallsSince(since, team.organizationId).writes).toBe(0);
  });
});

describe('team actions: who may act (each refused with 0 Clerk writes)', () => {
  useHarness();
  it('a plain member may read but not invite, change roles or remove', async () => {
    const team = seedTeam(harness.emulator, { admins: 1, members: 2 });
    const [plain, other] = team.members;
    if (!plain || !other) throw new Error('no members');
    const since = Date.now();
    const org = team.organizationId;
    const refused = await Promise.all([
      ask(INVITE, plain.token, { org, invitations: [{ email: 'x@example.test', role: 'org:member' }] }),
      ask(UPDATE_ROLE, plain.token, { org, user: other.userId, role: 'org:admin' }),
      ask(REMOVE, plain.token, { org, user: other.userId }),
      ask(REVOKE, plain.token, { org, id: 'orginv_nothing' }),
    ]);
    expect(refused.map(codeOf)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
    expect(clerkCallsSince(since, org).writes).toBe(0);
    const team2 = await ask<{ organization: PageData }>(TEAM, plain.token, { id: org });
    expect(team2.data?.organization.viewerPermissions).not.toContain('org:sys_memberships:manage');
  });

  it('a demoted admin (after the webhook) and a removed admin whose token still says org:admin are refused', async () => {
    const team = seedTeam(harness.emulator, { admins: 3, members: 1 });
    const [, demoted, removed] = team.admins;
    const target = team.members[0];
    if (!demoted || !removed || !target) throw new Error('seed');
    const org = team.organizationId;
    // Both act once, so the cache holds their admin rights.
    expect((await ask(TEAM, demoted.token, { id: org })).errors).toBeUndefined();
    // Clerk's own dashboard (not us) demotes one and removes the other; its webhooks arrive.
    await harness.clerk.organizations.updateOrganizationMembership({
      organizationId: org,
      userId: demoted.userId,
      role: 'org:member',
    });
    await harness.clerk.organizations.deleteOrganizationMembership({
      organizationId: org,
      userId: removed.userId,
    });
    await harness.emulator.control.webhooksSettled();
    const since = Date.now();
    const answers = await Promise.all([
      ask(REMOVE, demoted.token, { org, user: target.userId }),
      // The token was minted before the removal and still names the organization with org:admin.
      ask(REMOVE, removed.token, { org, user: target.userId }),
    ]);
    expect(answers.map(codeOf)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect(clerkCallsSince(since, org).writes).toBe(0);
  });

  it('an admin of organization A naming B, or a member of B through A, is refused', async () => {
    const a = seedTeam(harness.emulator, { admins: 1 });
    const b = seedTeam(harness.emulator, { admins: 1, members: 1 });
    const memberOfB = b.members[0];
    if (!memberOfB) throw new Error('seed');
    const since = Date.now();
    const answers = await Promise.all([
      ask(REMOVE, a.admin.token, { org: b.organizationId, user: memberOfB.userId }),
      ask(INVITE, a.admin.token, {
        org: b.organizationId,
        invitations: [{ email: 'x@example.test', role: 'org:admin' }],
      }),
      ask(REMOVE, a.admin.token, { org: a.organizationId, user: memberOfB.userId }),
      ask(UPDATE_ROLE, a.admin.token, { org: a.organizationId, user: b.admin.userId, role: 'org:member' }),
    ]);
    expect(answers.map(codeOf)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND', 'NOT_FOUND']);
    expect(
      clerkCallsSince(since, a.organizationId).writes + clerkCallsSince(since, b.organizationId).writes,
    ).toBe(0);
  });

  it('without a token: UNAUTHENTICATED', async () => {
    const answer = await harness.query(LEAVE, { token: null, variables: { org: 'org_x' } });
    expect(codeOf(answer)).toBe('UNAUTHENTICATED');
  });
});

describe('team actions: guards', () => {
  useHarness();
  it('the last admin cannot demote themself, be removed or leave (LAST_ADMIN, 0 Clerk writes)', async () => {
    const team = seedTeam(harness.emulator, { admins: 1, members: 1 });
    const org = team.organizationId;
    const since = Date.now();
    const answers = await Promise.all([
      ask(UPDATE_ROLE, team.admin.token, { org, user: team.admin.userId, role: 'org:member' }),
      ask(REMOVE, team.admin.token, { org, user: team.admin.userId }),
      ask(LEAVE, team.admin.token, { org }),
    ]);
    expect(answers.map(codeOf)).toEqual(['LAST_ADMIN', 'LAST_ADMIN', 'LAST_ADMIN']);
    expect(clerkCallsSince(since, org).writes).toBe(0);
  });

  it('two concurrent demotions of the last two admins: one succeeds, the other (demoted by then) is refused', async () => {
    const team = seedTeam(harness.emulator, { admins: 2 });
    const [one, two] = team.admins;
    if (!one || !two) throw new Error('seed');
    const org = team.organizationId;
    const answers = await Promise.all([
      ask(UPDATE_ROLE, one.token, { org, user: two.userId, role: 'org:member' }),
      ask(UPDATE_ROLE, two.token, { org, user: one.userId, role: 'org:member' }),
    ]);
    // One at a time per organization: the second runs after the first demoted its actor, who may no longer act.
    expect(answers.map(codeOf).sort()).toEqual(['FORBIDDEN', undefined].sort());
    const clerkRoster = await harness.clerk.organizations.getOrganizationMembershipList({
      organizationId: org,
    });
    expect(clerkRoster.data.filter((membership) => membership.role === 'org:admin')).toHaveLength(1);
  });

  it('seats: two concurrent invitations for the last seat, one is sent and one is SEATS_EXHAUSTED', async () => {
    const team = seedTeam(harness.emulator, { admins: 2, members: 1 });
    const [one, two] = team.admins;
    if (!one || !two) throw new Error('seed');
    const org = team.organizationId;
    await harness.clerk.organizations.updateOrganization(org, { maxAllowedMemberships: 4 });
    await harness.emulator.control.webhooksSettled();
    const since = Date.now();
    const answers = await Promise.all(
      [one, two].map((admin, i) =>
        ask<{ inviteMembers: { results: { errorCode: string | null }[] } }>(INVITE, admin.token, {
          org,
          invitations: [{ email: `seat${i}@example.test`, role: 'org:member' }],
        }),
      ),
    );
    const codes = answers.map((answer) =>
      answer.errors ? codeOf(answer) : answer.data?.inviteMembers.results[0]?.errorCode,
    );
    expect(codes.sort()).toEqual([null, 'SEATS_EXHAUSTED'].sort());
    // The refusal came from the cache (the second waited for the first's write to be applied): one Clerk write.
    expect(clerkCallsSince(since, org).writes).toBe(1);
    const seats = await ask<{ organization: PageData }>(TEAM, one.token, { id: org });
    expect(seats.data?.organization.seats).toEqual({
      members: 3,
      pendingInvitations: 1,
      max: 4,
      available: 0,
    });
  });

  it('bad input refuses the whole mutation with BAD_USER_INPUT and calls Clerk for nothing', async () => {
    const team = seedTeam(harness.emulator, { admins: 1 });
    const org = team.organizationId;
    const invite = (invitations: unknown[], extra: Vars = {}) =>
      ask(INVITE, team.admin.token, { org, invitations, ...extra });
    const ok = { email: 'ok@example.test', role: 'org:member' };
    const since = Date.now();
    const answers = await Promise.all([
      invite([{ email: 'not-an-email', role: 'org:member' }]),
      invite([{ email: 'a@example.test', role: 'org:owner' }]),
      invite(Array.from({ length: 101 }, (_, i) => ({ email: `p${i}@example.test`, role: 'org:member' }))),
      invite([ok], { days: 0 }),
      invite([ok], { days: 366 }),
      invite([ok], { url: 'ftp://example.test/x' }),
      invite([ok], { url: '/relative' }),
      invite([]),
      ask(UPDATE_ROLE, team.admin.token, { org, user: 'not_a_user', role: 'org:member' }),
      ask(REVOKE, team.admin.token, { org, id: '../../v1/users' }),
    ]);
    expect(answers.map(codeOf)).toEqual(Array(10).fill('BAD_USER_INPUT'));
    expect(clerkCallsSince(since, org).writes).toBe(0);
  });
});

describe('team actions: when the cache was behind, Clerk refuses with the same codes', () => {
  useHarness({ holdWebhooks: true });

  it('a demotion Clerk refuses as the last admin (its webhook not here yet) is LAST_ADMIN; an invitation Clerk finds taken is ALREADY_INVITED', async () => {
    const team = seedTeam(harness.emulator, { admins: 2, members: 1 });
    const [one, two] = team.admins;
    if (!one || !two) throw new Error('seed');
    const org = team.organizationId;
    await ask(TEAM, one.token, { id: org });
    // Behind our back (webhooks held): Clerk's dashboard demotes `two` and invites someone.
    await harness.clerk.organizations.updateOrganizationMembership({
      organizationId: org,
      userId: two.userId,
      role: 'org:member',
    });
    await harness.clerk.organizations.createOrganizationInvitation({
      organizationId: org,
      emailAddress: 'taken@example.test',
      role: 'org:member',
    });
    // Our cache still shows two admins and no invitation: the guards pass, Clerk refuses, the codes are ours.
    const demoted = await ask(UPDATE_ROLE, one.token, { org, user: one.userId, role: 'org:member' });
    expect(codeOf(demoted)).toBe('LAST_ADMIN');
    const invited = await ask<{ inviteMembers: { results: { errorCode: string | null }[] } }>(
      INVITE,
      one.token,
      { org, invitations: [{ email: 'taken@example.test', role: 'org:member' }] },
    );
    expect(invited.data?.inviteMembers.results.map((result) => result.errorCode)).toEqual([
      'ALREADY_INVITED',
    ]);
  });
});

describe('team actions: write limits and the audit log', () => {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  let limited: Harness;
  beforeAll(async () => {
    const record = (message: string, fields?: Record<string, unknown>) =>
      lines.push({ message, fields: fields ?? {} });
    limited = await startHarness({
      config: { writeRateLimitPerMinute: 2 },
      logger: { enabled: () => true, debug: () => {}, info: record, warn: record, error: record },
    });
  }, 30_000);
  afterAll(() => limited?.close());

  it('past the per-user limit: RATE_LIMITED with retryAfterSeconds, and no Clerk write', async () => {
    const team = seedTeam(limited.emulator, { admins: 1, members: 3 });
    const org = team.organizationId;
    const role = (userId: string | undefined, to: string) =>
      limited.query(UPDATE_ROLE, { token: team.admin.token, variables: { org, user: userId, role: to } });
    expect((await role(team.memberIds[0], 'org:admin')).errors).toBeUndefined();
    expect((await role(team.memberIds[1], 'org:admin')).errors).toBeUndefined();
    const since = Date.now();
    const refused = await role(team.memberIds[2], 'org:admin');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    const writes = limited.emulator.control
      .requestLog()
      .filter((entry) => entry.at >= since && WRITE_METHODS.has(entry.method) && entry.path.includes(org));
    expect(writes).toEqual([]);
  });

  it('one audit line per action: actor, organization, action, target IDs, outcome, request ID; no email address', async () => {
    const team = seedTeam(limited.emulator, { admins: 1 });
    const org = team.organizationId;
    lines.length = 0;
    await limited.query(INVITE, {
      token: team.admin.token,
      variables: { org, invitations: [{ email: 'audited@example.test', role: 'org:member' }] },
    });
    const audit = lines.filter((line) => line.message === 'team action');
    expect(audit).toHaveLength(1);
    expect(audit[0]?.fields).toMatchObject({
      audit: true,
      actor: team.admin.userId,
      organizationId: org,
      action: 'inviteMembers',
      outcome: 'ok',
    });
    expect(audit[0]?.fields.targets).toEqual([expect.stringMatching(/^orginv_/)]);
    expect(typeof audit[0]?.fields.requestId).toBe('string');
    expect(JSON.stringify(audit)).not.toContain('@');
  });
});
