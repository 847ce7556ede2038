/**
 * The instance's organization roles as Clerk answers them (`GET /v1/organization_roles`, `…/{id}`), through the
 * @clerk/backend SDK and raw against the OpenAPI file, errors included; and one source of truth: the permissions
 * every membership payload carries (list and write answers, webhooks) are the permissions of its role in that
 * list, for the default roles and for a custom role defined through the control API.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningClerkEmulator, startClerkEmulator } from '../src/index.js';
import {
  clerkError,
  eventOf,
  expectSdkClass,
  expectValidWebhook,
  newWebhookSecret,
  ofType,
  sdkFor,
} from './helpers.js';
import { specCall } from './openapi.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

let emulator: RunningClerkEmulator;
/** An emulator whose roles no test changes (custom roles are instance-wide), for the exact default list. */
let pristine: RunningClerkEmulator;
let pristineClerk: ReturnType<typeof sdkFor>;
let receiver: WebhookReceiver;
let clerk: ReturnType<typeof sdkFor>;
const secret = newWebhookSecret();
let counter = 0;

const ROLES = '/organization_roles';
const ROLE = '/organization_roles/{organization_role_id}';
const ORG = '/organizations/{organization_id}';
const MEMBERSHIPS = `${ORG}/memberships`;
const MEMBERSHIP = `${ORG}/memberships/{user_id}`;
const USER_MEMBERSHIPS = '/users/{user_id}/organization_memberships';

const ADMIN_PERMISSIONS = [
  'org:sys_profile:manage',
  'org:sys_profile:delete',
  'org:sys_memberships:read',
  'org:sys_memberships:manage',
  'org:sys_domains:read',
  'org:sys_domains:manage',
];
const MEMBER_PERMISSIONS = ['org:sys_memberships:read'];

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  emulator = await startClerkEmulator({
    seed: 'empty',
    webhookEndpoints: [{ url: receiver.url, secret }],
    webhookRetryDelaysMs: [10, 10],
  });
  clerk = sdkFor(emulator);
  pristine = await startClerkEmulator({ seed: 'empty' });
  pristineClerk = sdkFor(pristine);
});

afterEach(async () => {
  await emulator.control.webhooksSettled();
});

afterAll(async () => {
  await emulator?.close();
  await pristine?.close();
  await receiver?.close();
});

function freshUser() {
  counter += 1;
  return emulator.store.createUser({
    firstName: 'Role',
    lastName: `Holder${counter}`,
    emailAddress: `role-${counter}-${Math.random().toString(36).slice(2)}@example.test`,
  });
}

function team() {
  counter += 1;
  const org = emulator.store.createOrganization({ name: `Roles ${counter}`, slug: `roles-${counter}` });
  const admin = freshUser();
  emulator.store.addMembership(org.id, admin.id, 'org:admin');
  return { org, admin };
}

async function control(
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emulator.url}/__emulator${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type RoleJson = { id: string; key: string; name: string; permissions: { key: string }[] };

/** Role key → permission keys, from the instance's role list (the source a client would read). */
async function permissionsByRole(): Promise<Map<string, string[]>> {
  const body = await specCall(emulator, 'GET', ROLES, {}, undefined, 200, { limit: '500' });
  return new Map((body.data as RoleJson[]).map((r) => [r.key, r.permissions.map((p) => p.key)]));
}

describe('GET /v1/organization_roles', () => {
  it("lists Clerk's default roles through the SDK: newest first, each with its system permissions as Permission objects", async () => {
    const list = await pristineClerk.organizationRoles.getOrganizationRoleList();
    expect(list.totalCount).toBe(2);
    expect(list.data.map((r) => r.key)).toEqual(['org:member', 'org:admin']);
    const [member, admin] = list.data;
    expectSdkClass(admin, 'Role');
    expectSdkClass(admin?.permissions[0], 'Permission');
    expect(admin).toMatchObject({ name: 'Admin', isCreatorEligible: true });
    expect(member).toMatchObject({ name: 'Member', isCreatorEligible: false });
    expect(admin?.permissions.map((p) => p.key)).toEqual(ADMIN_PERMISSIONS);
    expect(member?.permissions.map((p) => p.key)).toEqual(MEMBER_PERMISSIONS);
    expect(admin?.id).toMatch(/^role_2[0-9A-Za-z]{26}$/);
    expect(admin?.permissions.every((p) => /^perm_2[0-9A-Za-z]{26}$/.test(p.id) && p.name !== '')).toBe(true);
    // Roles predate the records that use them.
    expect((admin?.createdAt ?? 0) < (member?.createdAt ?? 0)).toBe(true);
  });

  it('answers the OpenAPI Roles shape, with system permissions typed "system"', async () => {
    const body = await specCall(pristine, 'GET', ROLES, {}, undefined, 200);
    expect(body.total_count).toBe(2);
    type Typed = Omit<RoleJson, 'permissions'> & { permissions: { type: string; object: string }[] };
    const admin = (body.data as Typed[]).find((r) => r.key === 'org:admin');
    expect(admin?.permissions.every((p) => p.type === 'system' && p.object === 'permission')).toBe(true);
  });

  it('paginates with limit/offset and total_count, orders by ±created_at, name or key, and filters by query', async () => {
    const page = await pristineClerk.organizationRoles.getOrganizationRoleList({ limit: 1, offset: 1 });
    expect(page.totalCount).toBe(2);
    expect(page.data.map((r) => r.key)).toEqual(['org:admin']);

    const byKey = await specCall(pristine, 'GET', ROLES, {}, undefined, 200, { order_by: '-key' });
    expect((byKey.data as RoleJson[]).map((r) => r.key)).toEqual(['org:member', 'org:admin']);
    const byCreated = await specCall(pristine, 'GET', ROLES, {}, undefined, 200, { order_by: 'created_at' });
    expect((byCreated.data as RoleJson[]).map((r) => r.key)).toEqual(['org:admin', 'org:member']);

    const admin = (byCreated.data as RoleJson[])[0] as RoleJson;
    for (const query of ['adm', 'ADMIN', admin.id]) {
      const found = await pristineClerk.organizationRoles.getOrganizationRoleList({ query });
      expect(
        found.data.map((r) => r.key),
        query,
      ).toEqual(['org:admin']);
      expect(found.totalCount).toBe(1);
    }
    const none = await specCall(pristine, 'GET', ROLES, {}, undefined, 200, { query: 'nobody' });
    expect(none).toMatchObject({ data: [], total_count: 0 });
  });

  it('bad paging or ordering → 422 form_param_value_invalid (the OpenAPI error shape)', async () => {
    const queries: Record<string, string>[] = [
      { limit: '0' },
      { limit: 'ten' },
      { offset: '-1' },
      { order_by: 'permissions' },
    ];
    for (const query of queries) {
      const body = await specCall(pristine, 'GET', ROLES, {}, undefined, 422, query);
      expect(body.errors?.[0]?.code, JSON.stringify(query)).toBe('form_param_value_invalid');
    }
  });
});

describe('GET /v1/organization_roles/{id}', () => {
  it('answers one role (SDK getOrganizationRole), the same as in the list; an unknown ID → 404 resource_not_found', async () => {
    const list = await specCall(pristine, 'GET', ROLES, {}, undefined, 200);
    for (const listed of list.data as RoleJson[]) {
      const one = await specCall(pristine, 'GET', ROLE, { organization_role_id: listed.id }, undefined, 200);
      expect(one).toEqual(listed);
      const viaSdk = await pristineClerk.organizationRoles.getOrganizationRole(listed.id);
      expect(viaSdk.key).toBe(listed.key);
    }
    const missing = await specCall(
      emulator,
      'GET',
      ROLE,
      { organization_role_id: 'role_missing' },
      undefined,
      404,
    );
    expect(missing.errors?.[0]?.code).toBe('resource_not_found');
    const err = await clerkError(pristineClerk.organizationRoles.getOrganizationRole('role_missing'));
    expect(err.status).toBe(404);
  });
});

describe('one source of truth: membership permissions are their role’s', () => {
  it('list and write answers and organizationMembership.* webhooks carry the listed permissions of their role', async () => {
    const byRole = await permissionsByRole();
    const { org, admin } = team();
    const user = freshUser();

    const created = await specCall(
      emulator,
      'POST',
      MEMBERSHIPS,
      { organization_id: org.id },
      { user_id: user.id, role: 'org:member' },
      200,
    );
    expect(created.permissions).toEqual(byRole.get('org:member'));
    const promoted = await specCall(
      emulator,
      'PATCH',
      MEMBERSHIP,
      { organization_id: org.id, user_id: user.id },
      { role: 'org:admin' },
      200,
    );
    expect(promoted.permissions).toEqual(byRole.get('org:admin'));

    const list = await specCall(emulator, 'GET', MEMBERSHIPS, { organization_id: org.id }, undefined, 200);
    for (const m of list.data as { role: string; permissions: string[] }[]) {
      expect(m.permissions).toEqual(byRole.get(m.role));
    }
    const mine = await specCall(emulator, 'GET', USER_MEMBERSHIPS, { user_id: admin.id }, undefined, 200);
    expect((mine.data as { permissions: string[] }[])[0]?.permissions).toEqual(byRole.get('org:admin'));

    const removed = await specCall(
      emulator,
      'DELETE',
      MEMBERSHIP,
      { organization_id: org.id, user_id: user.id },
      undefined,
      200,
    );
    expect(removed.permissions).toEqual(byRole.get('org:admin'));

    for (const [type, role] of [
      ['organizationMembership.created', 'org:member'],
      ['organizationMembership.updated', 'org:admin'],
      ['organizationMembership.deleted', 'org:admin'],
    ] as const) {
      const hook = await receiver.next(ofType(type, (d) => d.id === created.id));
      expect(expectValidWebhook(secret, hook, emulator.instanceId).data.permissions).toEqual(
        byRole.get(role),
      );
    }
  });

  it('a custom role defined through POST /__emulator/organization_roles is listed, emits permission.created and role.created, and its members carry its permissions', async () => {
    const key = `org:billing_${++counter}`;
    const feature = `org:invoices_${counter}:manage`;
    const answer = await control('/organization_roles', {
      key,
      name: 'Billing',
      description: 'Pays the bills',
      permissions: ['org:sys_memberships:read', feature],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ object: 'role', key, name: 'Billing', is_creator_eligible: false });

    const listed = await clerk.organizationRoles.getOrganizationRoleList({ query: key });
    expect(listed.data.map((r) => r.key)).toEqual([key]);
    expect(listed.data[0]?.permissions.map((p) => p.key)).toEqual(['org:sys_memberships:read', feature]);
    const all = await clerk.organizationRoles.getOrganizationRoleList({ limit: 500 });
    expect(all.data[0]?.key).toBe(key); // newest first

    const permissionHook = await receiver.next(ofType('permission.created', (d) => d.key === feature));
    expect(expectValidWebhook(secret, permissionHook, emulator.instanceId).data.type).toBe('user');
    const roleHook = await receiver.next(ofType('role.created', (d) => d.key === key));
    expect(expectValidWebhook(secret, roleHook, emulator.instanceId).data.id).toBe(answer.body.id);
    // The system permission already existed: no permission.created for it.
    await emulator.control.webhooksSettled();
    expect(
      receiver.received
        .map(eventOf)
        .filter((e) => e.type === 'permission.created' && e.data.key === 'org:sys_memberships:read'),
    ).toEqual([]);

    const { org } = team();
    const user = freshUser();
    const membership = await clerk.organizations.createOrganizationMembership({
      organizationId: org.id,
      userId: user.id,
      role: key,
    });
    expect(membership.permissions).toEqual(['org:sys_memberships:read', feature]);
    expect((membership.raw as unknown as { role_name?: string } | null)?.role_name).toBe('Billing');
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: `billing-${counter}@example.test`,
      role: key,
    });
    expect(invitation.role).toBe(key);
  });

  it('a custom role holding org:sys_memberships:manage counts as a manager for the last-admin check', async () => {
    const key = `org:owner_${++counter}`;
    const answer = await control('/organization_roles', {
      key,
      name: 'Owner',
      permissions: ['org:sys_memberships:manage', 'org:sys_memberships:read', 'org:sys_profile:delete'],
    });
    expect(answer.body.is_creator_eligible).toBe(true);
    const { org, admin } = team();
    const err = await clerkError(
      clerk.organizations.updateOrganizationMembership({
        organizationId: org.id,
        userId: admin.id,
        role: 'org:member',
      }),
    );
    expect(err.errors[0]?.code).toBe('organization_minimum_permissions_needed');

    const owner = freshUser();
    await clerk.organizations.createOrganizationMembership({
      organizationId: org.id,
      userId: owner.id,
      role: key,
    });
    const demoted = await clerk.organizations.updateOrganizationMembership({
      organizationId: org.id,
      userId: admin.id,
      role: 'org:member',
    });
    expect(demoted.permissions).toEqual(MEMBER_PERMISSIONS);
  });

  it('bad custom roles → 400 and nothing defined: a taken or malformed key, an unknown system permission, no name', async () => {
    const before = (await clerk.organizationRoles.getOrganizationRoleList({ limit: 500 })).totalCount;
    for (const body of [
      { key: 'org:admin', name: 'Again', permissions: [] },
      { key: 'admin2', name: 'No prefix', permissions: [] },
      { key: 'org:Upper', name: 'Upper', permissions: [] },
      { key: `org:x_${++counter}`, name: 'Sys', permissions: ['org:sys_everything:manage'] },
      { key: `org:y_${++counter}`, name: 'Bad permission', permissions: ['invoices'] },
      { key: `org:z_${++counter}`, permissions: [] },
      { key: `org:w_${++counter}`, name: 'Not a list', permissions: 'org:a:b' },
    ]) {
      const answer = await control('/organization_roles', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    expect((await clerk.organizationRoles.getOrganizationRoleList({ limit: 500 })).totalCount).toBe(before);
  });
});

describe('the fields team actions rely on, in every membership and invitation payload', () => {
  it('memberships (answers, lists, webhooks of every write) carry permissions, organization.max_allowed_memberships and role_set_key; invitation webhooks carry expires_at', async () => {
    const byRole = await permissionsByRole();
    const founder = freshUser();
    const org = await clerk.organizations.createOrganization({
      name: `Fields ${++counter}`,
      createdBy: founder.id,
    });
    await clerk.organizations.updateOrganization(org.id, { maxAllowedMemberships: 50 });
    const member = freshUser();
    const leaver = freshUser();
    const answers: Record<string, unknown>[] = [];
    answers.push(
      await specCall(
        emulator,
        'POST',
        MEMBERSHIPS,
        { organization_id: org.id },
        { user_id: member.id, role: 'org:member' },
        200,
      ),
      await specCall(
        emulator,
        'POST',
        MEMBERSHIPS,
        { organization_id: org.id },
        { user_id: leaver.id, role: 'org:member' },
        200,
      ),
      await specCall(
        emulator,
        'PATCH',
        MEMBERSHIP,
        { organization_id: org.id, user_id: member.id },
        { role: 'org:admin' },
        200,
      ),
    );
    const invited = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: `fields-${++counter}@example.test`,
      role: 'org:member',
    });
    const revoked = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: `fields-${++counter}@example.test`,
      role: 'org:member',
    });
    await clerk.organizations.revokeOrganizationInvitation({
      organizationId: org.id,
      invitationId: revoked.id,
    });
    await emulator.control.acceptInvitation(invited.id);
    answers.push(
      await specCall(
        emulator,
        'DELETE',
        MEMBERSHIP,
        { organization_id: org.id, user_id: leaver.id },
        undefined,
        200,
      ),
    );
    const list = await specCall(emulator, 'GET', MEMBERSHIPS, { organization_id: org.id }, undefined, 200);
    answers.push(...(list.data as Record<string, unknown>[]));
    const mine = await specCall(emulator, 'GET', USER_MEMBERSHIPS, { user_id: member.id }, undefined, 200);
    answers.push(...(mine.data as Record<string, unknown>[]));
    await clerk.users.deleteUser(member.id);
    await emulator.control.webhooksSettled();

    const hooks = receiver.received.filter((hook) => {
      const data = eventOf(hook).data;
      return (
        data.organization_id === org.id || (data.organization as { id?: string } | undefined)?.id === org.id
      );
    });
    const events = hooks.map((hook) => expectValidWebhook(secret, hook, emulator.instanceId));
    const membershipEvents = events.filter((e) => e.type.startsWith('organizationMembership.'));
    expect(membershipEvents.map((e) => e.type).sort()).toEqual([
      'organizationMembership.created', // the creator's
      'organizationMembership.created',
      'organizationMembership.created',
      'organizationMembership.created', // the accepted invitation's
      'organizationMembership.deleted',
      'organizationMembership.deleted', // deleteUser
      'organizationMembership.updated',
    ]);
    const payloads = [...answers, ...membershipEvents.map((e) => e.data)];
    expect(payloads.length).toBeGreaterThan(10);
    for (const payload of payloads) {
      const { role, permissions, organization } = payload as {
        role: string;
        permissions: string[];
        organization: Record<string, unknown>;
      };
      expect(permissions, `${payload.id}`).toEqual(byRole.get(role));
      expect(organization).toMatchObject({ id: org.id, role_set_key: 'role_set:default' });
      // The membership written before the PATCH is the creator's: it carries the limit of its time (0).
      expect([0, 50]).toContain(organization.max_allowed_memberships);
    }
    expect(
      payloads.filter(
        (p) => (p.organization as { max_allowed_memberships: number }).max_allowed_memberships === 50,
      ).length,
    ).toBe(payloads.length - 1);

    const invitationEvents = events.filter((e) => e.type.startsWith('organizationInvitation.'));
    expect(invitationEvents.map((e) => e.type).sort()).toEqual([
      'organizationInvitation.accepted',
      'organizationInvitation.created',
      'organizationInvitation.created',
      'organizationInvitation.revoked',
    ]);
    for (const event of invitationEvents) {
      expect(event.data.expires_at, event.type).toBe(
        (event.data.id === invited.id ? invited : revoked).expiresAt,
      );
    }
  });
});
