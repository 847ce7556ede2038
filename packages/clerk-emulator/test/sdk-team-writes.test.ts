/**
 * The writes behind team actions, as Clerk answers them: the bulk invitation endpoint, seats that count pending
 * invitations, the last holder of org:sys_memberships:manage, duplicate and member invitations, revoking a
 * non-pending invitation, unknown roles, `max_allowed_memberships` and the permissions each role carries.
 * Each write goes through the @clerk/backend SDK where it has the call; raw requests check status and body
 * against the OpenAPI file (test/openapi.ts), errors included; the webhooks each write emits are verified.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningClerkEmulator, startClerkEmulator } from '../src/index.js';
import { DAY_MS } from '../src/store.js';
import { clerkError, eventOf, expectValidWebhook, newWebhookSecret, ofType, sdkFor } from './helpers.js';
import { expectSpecResponse, specCall } from './openapi.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

let emulator: RunningClerkEmulator;
let receiver: WebhookReceiver;
let clerk: ReturnType<typeof sdkFor>;
const secret = newWebhookSecret();
let counter = 0;

const ORG = '/organizations/{organization_id}';
const BULK = `${ORG}/invitations/bulk`;
const INVITATIONS = `${ORG}/invitations`;
const REVOKE = `${ORG}/invitations/{invitation_id}/revoke`;
const MEMBERSHIPS = `${ORG}/memberships`;
const MEMBERSHIP = `${ORG}/memberships/{user_id}`;

const ADMIN_PERMISSIONS = [
  'org:sys_profile:manage',
  'org:sys_profile:delete',
  'org:sys_memberships:read',
  'org:sys_memberships:manage',
  'org:sys_domains:read',
  'org:sys_domains:manage',
];

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  emulator = await startClerkEmulator({
    seed: 'empty',
    webhookEndpoints: [{ url: receiver.url, secret }],
    webhookRetryDelaysMs: [10, 10],
    minimumPermissionsCheck: true,
  });
  clerk = sdkFor(emulator);
});

afterEach(async () => {
  await emulator.control.webhooksSettled();
});

afterAll(async () => {
  await emulator?.close();
  await receiver?.close();
});

function freshUser() {
  counter += 1;
  return emulator.store.createUser({
    firstName: 'Team',
    lastName: `Writer${counter}`,
    emailAddress: `team-${counter}-${Math.random().toString(36).slice(2)}@example.test`,
  });
}

/** An organization with one admin (and `members` plain members). */
function team(members = 0) {
  counter += 1;
  const org = emulator.store.createOrganization({ name: `Team ${counter}`, slug: `team-writes-${counter}` });
  const admin = freshUser();
  emulator.store.addMembership(org.id, admin.id, 'org:admin');
  const memberIds = Array.from({ length: members }, () => {
    const user = freshUser();
    emulator.store.addMembership(org.id, user.id, 'org:member');
    return user.id;
  });
  return { org, admin, memberIds };
}

const email = () => `invitee-${++counter}-${Math.random().toString(36).slice(2)}@example.test`;

/** The webhooks delivered for an organization once every delivery has settled (no waiting on a clock). */
async function settledHooksFor(organizationId: string) {
  await emulator.control.webhooksSettled();
  return receiver.received
    .map(eventOf)
    .filter(
      (e) =>
        e.data.organization_id === organizationId ||
        (e.data.organization as { id?: string } | undefined)?.id === organizationId ||
        e.data.id === organizationId,
    );
}

const pendingCount = (organizationId: string) => emulator.store.pendingInvitationsCount(organizationId);

describe('bulk invitations: POST /v1/organizations/{id}/invitations/bulk', () => {
  it('creates every invitation in request order, each pending with its expiry, and emits organizationInvitation.created for each', async () => {
    const { org, admin } = team();
    const emails = [email(), email(), email()];
    const result = await clerk.organizations.createOrganizationInvitationBulk(org.id, [
      { emailAddress: emails[0] as string, role: 'org:member', inviterUserId: admin.id },
      { emailAddress: emails[1] as string, role: 'org:admin', expiresInDays: 7 },
      { emailAddress: emails[2] as string, role: 'org:member', publicMetadata: { team: 'blue' } },
    ]);
    expect(result.totalCount).toBe(3);
    expect(result.data.map((i) => i.emailAddress)).toEqual(emails);
    expect(result.data.map((i) => i.role)).toEqual(['org:member', 'org:admin', 'org:member']);
    expect(result.data.every((i) => i.status === 'pending' && i.id.startsWith('orginv_'))).toBe(true);
    const [first, second, third] = result.data;
    // Clerk's default: "By default, the invitation has a 30 days expire" (OpenAPI, expires_in_days).
    expect((first?.expiresAt ?? 0) - (first?.createdAt ?? 0)).toBe(30 * DAY_MS);
    expect((second?.expiresAt ?? 0) - (second?.createdAt ?? 0)).toBe(7 * DAY_MS);
    expect(third?.publicMetadata).toEqual({ team: 'blue' });
    expect(pendingCount(org.id)).toBe(3);

    for (const invitation of result.data) {
      const hook = await receiver.next(
        ofType('organizationInvitation.created', (d) => d.id === invitation.id),
      );
      const event = expectValidWebhook(secret, hook, emulator.instanceId);
      expect(event.data.email_address).toBe(invitation.emailAddress);
      expect(event.data.organization_id).toBe(org.id);
      expect(event.data.status).toBe('pending');
      expect(event.data.expires_at).toBe(invitation.expiresAt);
    }
  });

  it('answers the OpenAPI list shape {data, total_count}', async () => {
    const { org } = team();
    const body = await specCall(
      emulator,
      'POST',
      BULK,
      { organization_id: org.id },
      [
        { email_address: email(), role: 'org:member' },
        { email_address: email(), role: 'org:member', expires_in_days: 365 },
      ],
      200,
    );
    expect(body.total_count).toBe(2);
    expect((body.data as unknown[]).length).toBe(2);
  });

  it('takes at most 10 invitations per call: 11 → 400 bulk_size_exceeded, none created', async () => {
    const { org } = team();
    const items = Array.from({ length: 11 }, () => ({ email_address: email(), role: 'org:member' }));
    const body = await specCall(emulator, 'POST', BULK, { organization_id: org.id }, items, 400);
    expect(body.errors?.[0]?.code).toBe('bulk_size_exceeded');
    expect(pendingCount(org.id)).toBe(0);

    const ten = await clerk.organizations.createOrganizationInvitationBulk(
      org.id,
      items.slice(0, 10).map((i) => ({ emailAddress: i.email_address, role: i.role })),
    );
    expect(ten.totalCount).toBe(10);
  });

  it('an empty array or a non-array body → 400 request_body_invalid', async () => {
    const { org } = team();
    for (const body of [[], { email_address: email(), role: 'org:member' }]) {
      const answer = await specCall(emulator, 'POST', BULK, { organization_id: org.id }, body, 400);
      expect(answer.errors?.[0]?.code).toBe('request_body_invalid');
    }
  });

  it('is all or none: one refused item (a member, a duplicate in the batch, an unknown role) creates nothing and emits nothing', async () => {
    const { org, memberIds } = team(1);
    const memberEmail = emulator.store.getUser(memberIds[0] as string)?.emailAddress as string;
    const repeated = email();
    const cases: [unknown[], number, string][] = [
      [
        [
          { email_address: email(), role: 'org:member' },
          { email_address: memberEmail, role: 'org:member' },
        ],
        400,
        'already_a_member_in_organization',
      ],
      [
        [
          { email_address: repeated, role: 'org:member' },
          { email_address: repeated.toUpperCase(), role: 'org:member' },
        ],
        400,
        'organization_invitation_not_unique',
      ],
      [
        [
          { email_address: email(), role: 'org:member' },
          { email_address: email(), role: 'org:owner' },
        ],
        404,
        'resource_not_found',
      ],
      [
        [{ email_address: email(), role: 'org:member', expires_in_days: 366 }],
        422,
        'form_param_value_invalid',
      ],
      [[{ email_address: email(), role: 'org:member', colour: 'red' }], 422, 'form_param_unknown'],
    ];
    for (const [items, status, code] of cases) {
      const body = await specCall(emulator, 'POST', BULK, { organization_id: org.id }, items, status);
      expect(body.errors?.[0]?.code, JSON.stringify(items)).toBe(code);
    }
    expect(pendingCount(org.id)).toBe(0);
    expect(
      (await settledHooksFor(org.id)).filter((e) => e.type.startsWith('organizationInvitation.')),
    ).toEqual([]);
  });

  it('an unknown organization → 404 resource_not_found', async () => {
    const body = await specCall(
      emulator,
      'POST',
      BULK,
      { organization_id: 'org_missing' },
      [{ email_address: email(), role: 'org:member' }],
      404,
    );
    expect(body.errors?.[0]?.code).toBe('resource_not_found');
  });
});

describe('seats: members + pending invitations against max_allowed_memberships', () => {
  it('updateOrganization({ maxAllowedMemberships }) sets the limit, answers the organization and emits organization.updated', async () => {
    const { org } = team();
    const updated = await clerk.organizations.updateOrganization(org.id, { maxAllowedMemberships: 4 });
    expect(updated.maxAllowedMemberships).toBe(4);
    const hook = await receiver.next(ofType('organization.updated', (d) => d.id === org.id));
    expect(expectValidWebhook(secret, hook, emulator.instanceId).data.max_allowed_memberships).toBe(4);

    const raw = await specCall(
      emulator,
      'PATCH',
      ORG,
      { organization_id: org.id },
      { max_allowed_memberships: 0 },
      200,
    );
    expect(raw.max_allowed_memberships).toBe(0);
    const refused = await specCall(
      emulator,
      'PATCH',
      ORG,
      { organization_id: org.id },
      { max_allowed_memberships: -1 },
      422,
    );
    expect(refused.errors?.[0]?.code).toBe('form_param_value_invalid');
  });

  it('a pending invitation takes a seat: the invitation or membership past the limit → 403 organization_membership_quota_exceeded', async () => {
    const { org, memberIds } = team(1); // 2 members
    await clerk.organizations.updateOrganization(org.id, { maxAllowedMemberships: 3 });
    const last = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    expect(last.status).toBe('pending'); // 2 members + 1 pending = 3 seats

    const invite = await clerkError(
      clerk.organizations.createOrganizationInvitation({
        organizationId: org.id,
        emailAddress: email(),
        role: 'org:member',
      }),
    );
    expect(invite.status).toBe(403);
    expect(invite.errors[0]?.code).toBe('organization_membership_quota_exceeded');
    expect(invite.errors[0]?.longMessage).toContain('including outstanding invitations');

    const join = await clerkError(
      clerk.organizations.createOrganizationMembership({
        organizationId: org.id,
        userId: freshUser().id,
        role: 'org:member',
      }),
    );
    expect(join.status).toBe(403);
    expect(join.errors[0]?.code).toBe('organization_membership_quota_exceeded');

    for (const [path, body] of [
      [INVITATIONS, { email_address: email(), role: 'org:member' }],
      [BULK, [{ email_address: email(), role: 'org:member' }]],
      [MEMBERSHIPS, { user_id: freshUser().id, role: 'org:member' }],
    ] as const) {
      const answer = await specCall(emulator, 'POST', path, { organization_id: org.id }, body, 403);
      expect(answer.errors?.[0]?.code).toBe('organization_membership_quota_exceeded');
    }
    expect(emulator.store.membersCount(org.id)).toBe(2);
    expect(pendingCount(org.id)).toBe(1);

    // Accepting the pending invitation keeps the seat count: allowed at the limit.
    await emulator.control.acceptInvitation(last.id);
    expect(emulator.store.membersCount(org.id)).toBe(3);

    // Removing a member frees a seat.
    await clerk.organizations.deleteOrganizationMembership({
      organizationId: org.id,
      userId: memberIds[0] as string,
    });
    const again = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    expect(again.status).toBe('pending');
  });

  it('a bulk call needs a seat for every item; revoking frees one; 0 means unlimited', async () => {
    const { org } = team(); // 1 member
    await clerk.organizations.updateOrganization(org.id, { maxAllowedMemberships: 3 });
    const two = [email(), email()];
    const refused = await clerkError(
      clerk.organizations.createOrganizationInvitationBulk(org.id, [
        { emailAddress: two[0] as string, role: 'org:member' },
        { emailAddress: two[1] as string, role: 'org:member' },
        { emailAddress: email(), role: 'org:member' },
      ]),
    );
    expect(refused.status).toBe(403);
    expect(refused.errors[0]?.code).toBe('organization_membership_quota_exceeded');
    expect(pendingCount(org.id)).toBe(0);

    const created = await clerk.organizations.createOrganizationInvitationBulk(
      org.id,
      two.map((emailAddress) => ({ emailAddress, role: 'org:member' })),
    );
    expect(created.totalCount).toBe(2);
    await clerk.organizations.revokeOrganizationInvitation({
      organizationId: org.id,
      invitationId: created.data[0]?.id as string,
    });
    await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });

    await clerk.organizations.updateOrganization(org.id, { maxAllowedMemberships: 0 });
    const unlimited = await clerk.organizations.createOrganizationInvitationBulk(
      org.id,
      Array.from({ length: 10 }, () => ({ emailAddress: email(), role: 'org:member' })),
    );
    expect(unlimited.totalCount).toBe(10);
  });
});

describe('invitation uniqueness', () => {
  it('a second pending invitation to one email (any case) → 400 organization_invitation_not_unique; after a revoke it is allowed', async () => {
    const { org } = team();
    const address = email();
    const first = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: address,
      role: 'org:member',
    });
    const err = await clerkError(
      clerk.organizations.createOrganizationInvitation({
        organizationId: org.id,
        emailAddress: address.toUpperCase(),
        role: 'org:admin',
      }),
    );
    expect(err.status).toBe(400);
    expect(err.errors[0]?.code).toBe('organization_invitation_not_unique');
    const raw = await specCall(
      emulator,
      'POST',
      INVITATIONS,
      { organization_id: org.id },
      { email_address: address, role: 'org:member' },
      400,
    );
    expect(raw.errors?.[0]?.code).toBe('organization_invitation_not_unique');
    expect(pendingCount(org.id)).toBe(1);

    await clerk.organizations.revokeOrganizationInvitation({
      organizationId: org.id,
      invitationId: first.id,
    });
    const second = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: address,
      role: 'org:member',
    });
    expect(second.id).not.toBe(first.id);
  });

  it("inviting a member's email → 400 already_a_member_in_organization", async () => {
    const { org, admin } = team();
    const err = await clerkError(
      clerk.organizations.createOrganizationInvitation({
        organizationId: org.id,
        emailAddress: admin.emailAddress,
        role: 'org:member',
      }),
    );
    expect(err.status).toBe(400);
    expect(err.errors[0]?.code).toBe('already_a_member_in_organization');
    const raw = await specCall(
      emulator,
      'POST',
      INVITATIONS,
      { organization_id: org.id },
      { email_address: admin.emailAddress, role: 'org:member' },
      400,
    );
    expect(raw.errors?.[0]?.code).toBe('already_a_member_in_organization');
    expect(pendingCount(org.id)).toBe(0);
  });
});

describe('revoking', () => {
  it('revokes a pending invitation (organizationInvitation.revoked); a second revoke → 404 organization_invitation_not_pending', async () => {
    const { org, admin } = team();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    const revoked = await specCall(
      emulator,
      'POST',
      REVOKE,
      { organization_id: org.id, invitation_id: invitation.id },
      { requesting_user_id: admin.id },
      200,
    );
    expect(revoked.status).toBe('revoked');
    const hook = await receiver.next(ofType('organizationInvitation.revoked', (d) => d.id === invitation.id));
    expect(expectValidWebhook(secret, hook, emulator.instanceId).data.status).toBe('revoked');

    const err = await clerkError(
      clerk.organizations.revokeOrganizationInvitation({
        organizationId: org.id,
        invitationId: invitation.id,
      }),
    );
    expect(err.status).toBe(404);
    expect(err.errors[0]?.code).toBe('organization_invitation_not_pending');
    const raw = await specCall(
      emulator,
      'POST',
      REVOKE,
      { organization_id: org.id, invitation_id: invitation.id },
      undefined,
      404,
    );
    expect(raw.errors?.[0]?.code).toBe('organization_invitation_not_pending');
    const revokedHooks = (await settledHooksFor(org.id)).filter(
      (e) => e.type === 'organizationInvitation.revoked',
    );
    expect(revokedHooks).toHaveLength(1);
  });

  it('an accepted invitation cannot be revoked; an unknown one → 404 resource_not_found', async () => {
    const { org } = team();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    await emulator.control.acceptInvitation(invitation.id);
    const err = await clerkError(
      clerk.organizations.revokeOrganizationInvitation({
        organizationId: org.id,
        invitationId: invitation.id,
      }),
    );
    expect(err.errors[0]?.code).toBe('organization_invitation_not_pending');
    const unknown = await specCall(
      emulator,
      'POST',
      REVOKE,
      { organization_id: org.id, invitation_id: 'orginv_missing' },
      undefined,
      404,
    );
    expect(unknown.errors?.[0]?.code).toBe('resource_not_found');
  });
});

describe('the last member holding org:sys_memberships:manage', () => {
  it('cannot be demoted or removed (400 organization_minimum_permissions_needed, no webhook); once another admin exists, can', async () => {
    const { org, admin, memberIds } = team(1);
    const member = memberIds[0] as string;
    const demote = await clerkError(
      clerk.organizations.updateOrganizationMembership({
        organizationId: org.id,
        userId: admin.id,
        role: 'org:member',
      }),
    );
    expect(demote.status).toBe(400);
    expect(demote.errors[0]?.code).toBe('organization_minimum_permissions_needed');
    const remove = await clerkError(
      clerk.organizations.deleteOrganizationMembership({ organizationId: org.id, userId: admin.id }),
    );
    expect(remove.status).toBe(400);
    expect(remove.errors[0]?.code).toBe('organization_minimum_permissions_needed');
    expect(emulator.store.getMembership(org.id, admin.id)?.role).toBe('org:admin');
    expect(await settledHooksFor(org.id)).toEqual([]);

    // Keeping the role is not a demotion; a plain member may be removed.
    await clerk.organizations.updateOrganizationMembership({
      organizationId: org.id,
      userId: admin.id,
      role: 'org:admin',
    });

    // Promote the member, then the first admin may step down and leave.
    const promoted = await clerk.organizations.updateOrganizationMembership({
      organizationId: org.id,
      userId: member,
      role: 'org:admin',
    });
    expect(promoted.permissions).toEqual(ADMIN_PERMISSIONS);
    const demoted = await clerk.organizations.updateOrganizationMembership({
      organizationId: org.id,
      userId: admin.id,
      role: 'org:member',
    });
    expect(demoted.permissions).toEqual(['org:sys_memberships:read']);
    const hook = await receiver.next(
      ofType('organizationMembership.updated', (d) => d.id === demoted.id && d.role === 'org:member'),
    );
    expect(expectValidWebhook(secret, hook, emulator.instanceId).data.permissions).toEqual([
      'org:sys_memberships:read',
    ]);
    const removed = await clerk.organizations.deleteOrganizationMembership({
      organizationId: org.id,
      userId: admin.id,
    });
    expect(removed.id).toBe(demoted.id);
    const deleted = await receiver.next(ofType('organizationMembership.deleted', (d) => d.id === demoted.id));
    expectValidWebhook(secret, deleted, emulator.instanceId);
  });

  it('refusals are Clerk error bodies (PATCH and DELETE: the OpenAPI lists no 400 there, so the ClerkErrors schema is checked)', async () => {
    const { org, admin } = team();
    for (const [method, body] of [
      ['PATCH', { role: 'org:member' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await fetch(`${emulator.url}/v1/organizations/${org.id}/memberships/${admin.id}`, {
        method,
        headers: { Authorization: `Bearer ${emulator.secretKey}`, 'Content-Type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { errors: { code: string }[] };
      expect(json.errors[0]?.code).toBe('organization_minimum_permissions_needed');
      // The same schema the spec's 404/422 of these routes use.
      expectSpecResponse(method, MEMBERSHIP, 404, json);
    }
  });

  it('the check is on by default, as in Clerk, and switches at run time through the control API', async () => {
    const plain = await startClerkEmulator({ seed: 'empty' });
    try {
      const org = plain.store.createOrganization({ name: 'Sole admin' });
      const user = plain.store.createUser({ emailAddress: 'sole.admin@example.test' });
      plain.store.addMembership(org.id, user.id, 'org:admin');
      const sdk = sdkFor(plain);
      const refused = await clerkError(
        sdk.organizations.updateOrganizationMembership({
          organizationId: org.id,
          userId: user.id,
          role: 'org:member',
        }),
      );
      expect(refused.errors[0]?.code).toBe('organization_minimum_permissions_needed');

      const toggled = await fetch(`${plain.url}/__emulator/minimum-permissions-check`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ enabled: false }),
      });
      expect(toggled.status).toBe(200);
      const demoted = await sdk.organizations.updateOrganizationMembership({
        organizationId: org.id,
        userId: user.id,
        role: 'org:member',
      });
      expect(demoted.role).toBe('org:member');
    } finally {
      await plain.close();
    }
  });

  it('an organization without any manager (store setup) keeps its members writable', async () => {
    counter += 1;
    const org = emulator.store.createOrganization({ name: `No admin ${counter}` });
    const user = freshUser();
    emulator.store.addMembership(org.id, user.id, 'org:member');
    const removed = await clerk.organizations.deleteOrganizationMembership({
      organizationId: org.id,
      userId: user.id,
    });
    expect(removed.publicUserData?.userId).toBe(user.id);
  });
});

describe('roles and permissions', () => {
  it('memberships carry their role’s system permissions (responses, lists, webhooks)', async () => {
    const { org } = team();
    const user = freshUser();
    const created = await specCall(
      emulator,
      'POST',
      MEMBERSHIPS,
      { organization_id: org.id },
      { user_id: user.id, role: 'org:member' },
      200,
    );
    expect(created.permissions).toEqual(['org:sys_memberships:read']);
    const updated = await specCall(
      emulator,
      'PATCH',
      MEMBERSHIP,
      { organization_id: org.id, user_id: user.id },
      { role: 'org:admin' },
      200,
    );
    expect(updated.permissions).toEqual(ADMIN_PERMISSIONS);
    expect(updated.permissions).toContain('org:sys_memberships:manage');
    const list = await clerk.organizations.getOrganizationMembershipList({ organizationId: org.id });
    expect(list.data.every((m) => m.permissions.includes('org:sys_memberships:manage'))).toBe(true);
    const removed = await specCall(
      emulator,
      'DELETE',
      MEMBERSHIP,
      { organization_id: org.id, user_id: user.id },
      undefined,
      200,
    );
    expect(removed.id).toBe(created.id);
    const hook = await receiver.next(ofType('organizationMembership.created', (d) => d.id === created.id));
    expect(expectValidWebhook(secret, hook, emulator.instanceId).data.permissions).toEqual([
      'org:sys_memberships:read',
    ]);
  });

  it('a role the instance does not define → 404 resource_not_found on every write that names one', async () => {
    const { org, memberIds } = team(1);
    const user = freshUser();
    const calls = [
      clerk.organizations.createOrganizationMembership({
        organizationId: org.id,
        userId: user.id,
        role: 'org:owner',
      }),
      clerk.organizations.updateOrganizationMembership({
        organizationId: org.id,
        userId: memberIds[0] as string,
        role: 'org:owner',
      }),
      clerk.organizations.createOrganizationInvitation({
        organizationId: org.id,
        emailAddress: email(),
        role: 'admin',
      }),
    ];
    for (const call of calls) {
      const err = await clerkError(call);
      expect(err.status).toBe(404);
      expect(err.errors[0]?.code).toBe('resource_not_found');
      expect(err.errors[0]?.meta).toMatchObject({ paramName: 'role' });
    }
    const raw = await specCall(
      emulator,
      'PATCH',
      MEMBERSHIP,
      { organization_id: org.id, user_id: memberIds[0] as string },
      { role: 'org:owner' },
      404,
    );
    expect(raw.errors?.[0]?.long_message).toBe('Organization role not found');
    expect(emulator.store.getMembership(org.id, memberIds[0] as string)?.role).toBe('org:member');
    expect(emulator.store.getMembership(org.id, user.id)).toBeUndefined();
  });

  it('expires_in_days outside 1..365 → 422 form_param_value_invalid', async () => {
    const { org } = team();
    for (const days of [0, 366]) {
      const raw = await specCall(
        emulator,
        'POST',
        INVITATIONS,
        { organization_id: org.id },
        { email_address: email(), role: 'org:member', expires_in_days: days },
        422,
      );
      expect(raw.errors?.[0]?.code).toBe('form_param_value_invalid');
    }
    const created = await specCall(
      emulator,
      'POST',
      INVITATIONS,
      { organization_id: org.id },
      { email_address: email(), role: 'org:member', expires_in_days: 1 },
      200,
    );
    expect((created.expires_at as number) - (created.created_at as number)).toBe(DAY_MS);
  });
});
