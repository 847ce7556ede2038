/**
 * Retrying team actions, end to end: Clerk's answer to a write is held past the server's timeout (a ClerkGate
 * between the server and the emulator), so the write happened but the server could not know. The mutation says so
 * (UPSTREAM_UNAVAILABLE, outcome UNKNOWN); its retry with the same Idempotency-Key reads Clerk again and reports
 * what the first attempt did, with no second write. A retry of a completed mutation replays its answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

const INVITE = `mutation Invite($org: ID!, $invitations: [InvitationInput!]!) {
  inviteMembers(organizationId: $org, invitations: $invitations) {
    results { email errorCode invitation { id email role } }
    organization { members(includePending: true) { pendingInvitations { id email } } }
  }
}`;
const REMOVE = `mutation Remove($org: ID!, $user: ID!) {
  removeMember(organizationId: $org, userId: $user) { organization { members { totalCount } } }
}`;

interface InviteData {
  inviteMembers: {
    results: { email: string; errorCode: string | null; invitation: { id: string } | null }[];
    organization: { members: { pendingInvitations: { id: string; email: string }[] } };
  };
}

let harness: Harness;
beforeAll(async () => {
  // Clerk's timeout well inside the request's deadline: the held answer times the write out, not the request.
  harness = await startHarness({ gateClerk: true, config: { clerkTimeoutMs: 300, requestDeadlineMs: 3000 } });
}, 30_000);
afterAll(() => harness.close());

const writesTo = (organizationId: string, since: number) =>
  harness.emulator.control
    .requestLog()
    .filter((entry) => entry.at >= since && entry.method !== 'GET' && entry.path.includes(organizationId))
    .length;

describe('retrying a team action', () => {
  it('after a Clerk timeout: the retry with the same key finds the invitation the first attempt made, and writes nothing', async () => {
    const team = seedTeam(harness.emulator, { admins: 1 });
    const org = team.organizationId;
    const variables = { org, invitations: [{ email: 'late@example.test', role: 'org:member' }] };
    const headers = { 'idempotency-key': `invite-${org}` };
    // Warm the team, so the first attempt's guards need no read.
    await harness.query(
      `query T($id: ID!) { organization(id: $id) { members(includePending: true) { totalCount } } }`,
      {
        token: team.admin.token,
        variables: { id: org },
      },
    );

    const held = harness.gate?.hold((path) => path === `/v1/organizations/${org}/invitations/bulk`);
    if (!held) throw new Error('no gate');
    const since = Date.now();
    const first = await harness.query<InviteData, typeof variables>(INVITE, {
      token: team.admin.token,
      variables,
      headers,
    });
    await held.answered;
    held.release();
    // Reported per invitation (the others of a bulk request would stand): this one's outcome is unknown.
    expect(first.errors).toBeUndefined();
    expect(first.data?.inviteMembers.results.map((result) => result.errorCode)).toEqual(['OUTCOME_UNKNOWN']);
    // Clerk did create it: the first attempt's write happened.
    expect(writesTo(org, since)).toBe(1);

    const retry = await harness.query<InviteData, typeof variables>(INVITE, {
      token: team.admin.token,
      variables,
      headers,
    });
    expect(retry.errors).toBeUndefined();
    const [result] = retry.data?.inviteMembers.results ?? [];
    expect(result?.errorCode).toBeNull();
    expect(result?.invitation?.id).toMatch(/^orginv_/);
    expect(writesTo(org, since)).toBe(1);
    const pending = await harness.clerk.organizations.getOrganizationInvitationList({
      organizationId: org,
      status: ['pending'],
    });
    expect(pending.data.map((invitation) => invitation.emailAddress)).toEqual(['late@example.test']);
  });

  it('after a Clerk timeout, without a key: the answer says the outcome is unknown', async () => {
    const team = seedTeam(harness.emulator, { admins: 1, members: 1 });
    const member = team.members[0];
    if (!member) throw new Error('seed');
    const held = harness.gate?.hold((path) =>
      path.includes(`/organizations/${team.organizationId}/memberships/`),
    );
    if (!held) throw new Error('no gate');
    const answer = await harness.query(REMOVE, {
      token: team.admin.token,
      variables: { org: team.organizationId, user: member.userId },
    });
    held.release();
    expect(answer.errors?.[0]?.extensions).toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      outcome: 'UNKNOWN',
    });
  });

  it('a mutation sent twice without a key runs twice (the fast path never replays a write)', async () => {
    const team = seedTeam(harness.emulator, { admins: 1 });
    const variables = {
      org: team.organizationId,
      invitations: [{ email: 'twice@example.test', role: 'org:member' }],
    };
    const first = await harness.query<InviteData, typeof variables>(INVITE, {
      token: team.admin.token,
      variables,
    });
    const second = await harness.query<InviteData, typeof variables>(INVITE, {
      token: team.admin.token,
      variables,
    });
    expect(first.data?.inviteMembers.results[0]?.errorCode).toBeNull();
    // Executed again: the guard saw the first one's invitation.
    expect(second.data?.inviteMembers.results[0]?.errorCode).toBe('ALREADY_INVITED');
  });

  it('a completed mutation retried with its key replays the first answer without a second write', async () => {
    const team = seedTeam(harness.emulator, { admins: 1 });
    const org = team.organizationId;
    const variables = { org, invitations: [{ email: 'once@example.test', role: 'org:member' }] };
    const headers = { 'idempotency-key': `once-${org}` };
    const since = Date.now();
    const first = await harness.query<InviteData, typeof variables>(INVITE, {
      token: team.admin.token,
      variables,
      headers,
    });
    const second = await harness.query<InviteData, typeof variables>(INVITE, {
      token: team.admin.token,
      variables,
      headers,
    });
    expect(first.errors).toBeUndefined();
    expect(second.data).toEqual(first.data);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(writesTo(org, since)).toBe(1);
    // The same key with another body is refused, and writes nothing.
    const other = await harness.query(INVITE, {
      token: team.admin.token,
      variables: { org, invitations: [{ email: 'other@example.test', role: 'org:member' }] },
      headers,
    });
    expect(other.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(writesTo(org, since)).toBe(1);
  });
});
