import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClerkEmulator, DemoFixture } from '../src/contract.js';
import {
  api,
  collectAllPages,
  expectKeys,
  expectSdkClass,
  INVITATION_KEYS,
  MEMBERSHIP_KEYS,
  MEMBERSHIP_ORGANIZATION_KEYS,
  PUBLIC_USER_DATA_KEYS,
  type sdkFor,
  startDemoEmulator,
} from './helpers.js';

let emulator: ClerkEmulator;
let demo: DemoFixture;
let clerk: ReturnType<typeof sdkFor>;

const MS_2020 = 1_577_836_800_000;

beforeAll(async () => {
  ({ emulator, demo, clerk } = await startDemoEmulator());
});

afterAll(async () => {
  await emulator?.close();
});

describe('organizations (SDK)', () => {
  it('getOrganizationList returns Organization instances for the demo organizations', async () => {
    const list = await clerk.organizations.getOrganizationList({ limit: 100 });
    expect(list.totalCount).toBeGreaterThanOrEqual(3);
    expect(list.data.length).toBe(list.totalCount);
    for (const org of list.data) {
      expectSdkClass(org, 'Organization');
      expect(org.id).toMatch(/^org_/);
      expect(typeof org.name).toBe('string');
      expect(org.createdAt).toBeGreaterThan(MS_2020);
    }
    const slugs = list.data.map((org) => org.slug);
    expect(slugs).toEqual(expect.arrayContaining(['acme', 'globex', 'initech']));
    const ids = list.data.map((org) => org.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        demo.acme.organizationId,
        demo.globex.organizationId,
        demo.initech.organizationId,
      ]),
    );
  });

  it('getOrganization by id returns the organization with its fields', async () => {
    const org = await clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId });
    expectSdkClass(org, 'Organization');
    expect(org.id).toBe(demo.acme.organizationId);
    expect(org.slug).toBe('acme');
    expect(org.name.length).toBeGreaterThan(0);
    expect(typeof org.imageUrl).toBe('string');
    expect(typeof org.hasImage).toBe('boolean');
    expect(typeof org.maxAllowedMemberships).toBe('number');
    expect(org.createdAt).toBeGreaterThan(MS_2020);
    expect(org.updatedAt).toBeGreaterThanOrEqual(org.createdAt);
  });

  it('getOrganization by slug returns the same organization as by id', async () => {
    const bySlug = await clerk.organizations.getOrganization({ slug: 'initech' });
    expect(bySlug.id).toBe(demo.initech.organizationId);
    const byId = await clerk.organizations.getOrganization({ organizationId: demo.initech.organizationId });
    expect(bySlug.name).toBe(byId.name);
    expect(bySlug.createdAt).toBe(byId.createdAt);
  });
});

describe('memberships (SDK)', () => {
  it('lists acme: 2 admins and 6 members with populated public user data', async () => {
    const list = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.acme.organizationId,
      limit: 100,
    });
    expect(list.totalCount).toBe(8);
    expect(list.data).toHaveLength(8);
    for (const membership of list.data) {
      expectSdkClass(membership, 'OrganizationMembership');
      expect(membership.id).toMatch(/^orgmem_/);
      expect(typeof membership.createdAt).toBe('number');
      expect(membership.createdAt).toBeGreaterThan(MS_2020);
      expect(typeof membership.updatedAt).toBe('number');
      expect(membership.organization.id).toBe(demo.acme.organizationId);
      expect(membership.organization.slug).toBe('acme');
      expect(Array.isArray(membership.permissions)).toBe(true);
      const user = membership.publicUserData;
      expect(user).toBeTruthy();
      expect(user?.userId).toMatch(/^user_/);
      expect(user?.identifier).toMatch(/^[^@\s]+@[^@\s]+$/);
      expect(typeof user?.imageUrl).toBe('string');
      expect(typeof user?.hasImage).toBe('boolean');
      expect(user?.firstName === null || typeof user?.firstName === 'string').toBe(true);
    }
    const admins = list.data.filter((m) => m.role === 'org:admin').map((m) => m.publicUserData?.userId);
    const members = list.data.filter((m) => m.role === 'org:member').map((m) => m.publicUserData?.userId);
    expect([...admins].sort()).toEqual([...demo.acme.adminUserIds].sort());
    expect([...members].sort()).toEqual([...demo.acme.memberUserIds].sort());
    // role_name is only reachable through .raw
    const raw = list.data.map((m) => m.raw as unknown as Record<string, unknown> | null);
    expect(raw.every((json) => typeof json?.role_name === 'string')).toBe(true);
  });

  it('honours limit and offset', async () => {
    const orgId = demo.acme.organizationId;
    const all = await clerk.organizations.getOrganizationMembershipList({ organizationId: orgId, limit: 8 });
    const first = await clerk.organizations.getOrganizationMembershipList({
      organizationId: orgId,
      limit: 3,
    });
    const second = await clerk.organizations.getOrganizationMembershipList({
      organizationId: orgId,
      limit: 3,
      offset: 3,
    });
    const last = await clerk.organizations.getOrganizationMembershipList({
      organizationId: orgId,
      limit: 3,
      offset: 6,
    });
    expect(first.totalCount).toBe(8);
    expect(second.totalCount).toBe(8);
    expect(first.data.map((m) => m.id)).toEqual(all.data.slice(0, 3).map((m) => m.id));
    expect(second.data.map((m) => m.id)).toEqual(all.data.slice(3, 6).map((m) => m.id));
    expect(last.data.map((m) => m.id)).toEqual(all.data.slice(6).map((m) => m.id));
  });

  it('defaults to 10 per page', async () => {
    const page = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.globex.organizationId,
    });
    expect(page.data).toHaveLength(10);
    expect(page.totalCount).toBe(500);
  });

  it('pages through the 2,500-member initech with limit 500: every member exactly once', async () => {
    const orgId = demo.initech.organizationId;
    const { items, totalCount, pages } = await collectAllPages((offset) =>
      clerk.organizations.getOrganizationMembershipList({ organizationId: orgId, limit: 500, offset }),
    );
    expect(totalCount).toBe(2500);
    expect(pages).toBe(5);
    expect(items).toHaveLength(2500);
    expect(new Set(items.map((m) => m.id)).size).toBe(2500);
    expect(new Set(items.map((m) => m.publicUserData?.userId)).size).toBe(2500);
    // Default order is newest first.
    for (let i = 1; i < items.length; i++) {
      expect(items[i - 1]?.createdAt).toBeGreaterThanOrEqual(items[i]?.createdAt ?? Number.POSITIVE_INFINITY);
    }
    expect(items[0]?.createdAt).toBeGreaterThan(
      items[items.length - 1]?.createdAt ?? Number.POSITIVE_INFINITY,
    );
  });

  it('orders by created_at ascending when asked', async () => {
    const orgId = demo.initech.organizationId;
    const ascending = await collectAllPages((offset) =>
      clerk.organizations.getOrganizationMembershipList({
        organizationId: orgId,
        limit: 500,
        offset,
        orderBy: 'created_at',
      }),
    );
    expect(ascending.items).toHaveLength(2500);
    expect(new Set(ascending.items.map((m) => m.id)).size).toBe(2500);
    for (let i = 1; i < ascending.items.length; i++) {
      expect(ascending.items[i - 1]?.createdAt).toBeLessThanOrEqual(
        ascending.items[i]?.createdAt ?? Number.NEGATIVE_INFINITY,
      );
    }
    const descending = await clerk.organizations.getOrganizationMembershipList({
      organizationId: orgId,
      limit: 1,
      orderBy: '-created_at',
    });
    expect(descending.data[0]?.createdAt).toBe(ascending.items[ascending.items.length - 1]?.createdAt);
  });
});

describe('invitations (SDK)', () => {
  it('lists acme pending invitations', async () => {
    const list = await clerk.organizations.getOrganizationInvitationList({
      organizationId: demo.acme.organizationId,
      status: ['pending'],
    });
    expect(list.totalCount).toBe(3);
    expect(list.data.map((inv) => inv.id).sort()).toEqual([...demo.acme.pendingInvitationIds].sort());
    for (const invitation of list.data) {
      expectSdkClass(invitation, 'OrganizationInvitation');
      expect(invitation.id).toMatch(/^orginv_/);
      expect(invitation.status).toBe('pending');
      expect(invitation.organizationId).toBe(demo.acme.organizationId);
      expect(invitation.emailAddress).toMatch(/^[^@\s]+@[^@\s]+$/);
      expect(invitation.role).toMatch(/^org:/);
      expect(invitation.createdAt).toBeGreaterThan(MS_2020);
      expect(invitation.expiresAt).toBeGreaterThan(invitation.createdAt);
    }
    for (let i = 1; i < list.data.length; i++) {
      expect(list.data[i - 1]?.createdAt).toBeGreaterThanOrEqual(list.data[i]?.createdAt ?? Infinity);
    }
  });
});

describe('users (SDK)', () => {
  it('getUser returns the user behind a membership', async () => {
    const userId = demo.acme.adminUserIds[0] ?? '';
    const user = await clerk.users.getUser(userId);
    expectSdkClass(user, 'User');
    expect(user.id).toBe(userId);
    expect(user.createdAt).toBeGreaterThan(MS_2020);
    expect(user.emailAddresses.length).toBeGreaterThan(0);
    expect(user.primaryEmailAddressId).toBe(user.emailAddresses[0]?.id);
    expect(user.primaryEmailAddress?.emailAddress).toMatch(/@/);

    const memberships = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.acme.organizationId,
      limit: 100,
    });
    const mine = memberships.data.find((m) => m.publicUserData?.userId === userId);
    expect(mine?.publicUserData?.identifier).toBe(user.primaryEmailAddress?.emailAddress);
    expect(mine?.publicUserData?.firstName).toBe(user.firstName);
    expect(mine?.publicUserData?.lastName).toBe(user.lastName);
  });

  it('getUser works for the outsider who has no organization', async () => {
    const user = await clerk.users.getUser(demo.outsiderUserId);
    expect(user.id).toBe(demo.outsiderUserId);
  });
});

describe('wire format (raw fetch)', () => {
  it('answers with Content-Type exactly application/json', async () => {
    for (const path of [
      '/organizations',
      `/organizations/${demo.acme.organizationId}`,
      `/organizations/${demo.acme.organizationId}/memberships`,
      `/organizations/${demo.acme.organizationId}/invitations?status=pending`,
      `/users/${demo.outsiderUserId}`,
      '/organizations/org_doesnotexist',
    ]) {
      const res = await api(emulator, path);
      expect(res.headers.get('content-type'), path).toBe('application/json');
      await res.arrayBuffer();
    }
  });

  it('list bodies are {data, total_count} and a membership carries every wire key', async () => {
    const res = await api(emulator, `/organizations/${demo.acme.organizationId}/memberships?limit=100`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Record<string, unknown>[]; total_count: number };
    expect(Object.keys(body).sort()).toEqual(['data', 'total_count']);
    expect(body.total_count).toBe(8);
    expect(body.data).toHaveLength(8);
    for (const membership of body.data) {
      expectKeys(membership, MEMBERSHIP_KEYS, 'membership');
      expect(membership.object).toBe('organization_membership');
      expect(Number.isInteger(membership.created_at)).toBe(true);
      expect(membership.created_at as number).toBeGreaterThan(MS_2020);
      expect(membership.role_name).toBeTypeOf('string');
      expectKeys(membership.organization, MEMBERSHIP_ORGANIZATION_KEYS, 'membership.organization');
      const organization = membership.organization as Record<string, unknown>;
      expect(organization.object).toBe('organization');
      expect(organization.id).toBe(demo.acme.organizationId);
      expect(organization.members_count).toBe(8);
      expectKeys(membership.public_user_data, PUBLIC_USER_DATA_KEYS, 'membership.public_user_data');
    }
  });

  it('an invitation carries every wire key', async () => {
    const res = await api(emulator, `/organizations/${demo.acme.organizationId}/invitations?status=pending`);
    const body = (await res.json()) as { data: Record<string, unknown>[]; total_count: number };
    expect(body.total_count).toBe(3);
    for (const invitation of body.data) {
      expectKeys(invitation, INVITATION_KEYS, 'invitation');
      expect(invitation.object).toBe('organization_invitation');
      expect(invitation.status).toBe('pending');
      expect(invitation.organization_id).toBe(demo.acme.organizationId);
    }
  });

  it('treats a missing offset as 0 and order_by=created_at as ascending', async () => {
    const orgId = demo.globex.organizationId;
    const noOffset = (await (await api(emulator, `/organizations/${orgId}/memberships?limit=5`)).json()) as {
      data: { id: string; created_at: number }[];
    };
    const zeroOffset = (await (
      await api(emulator, `/organizations/${orgId}/memberships?limit=5&offset=0`)
    ).json()) as { data: { id: string }[] };
    expect(noOffset.data.map((m) => m.id)).toEqual(zeroOffset.data.map((m) => m.id));

    const asc = (await (
      await api(emulator, `/organizations/${orgId}/memberships?limit=500&order_by=created_at`)
    ).json()) as { data: { id: string; created_at: number }[]; total_count: number };
    expect(asc.total_count).toBe(500);
    const times = asc.data.map((m) => m.created_at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('an offset past the end returns an empty page with the full total', async () => {
    const res = await api(
      emulator,
      `/organizations/${demo.initech.organizationId}/memberships?limit=10&offset=5000`,
    );
    const body = (await res.json()) as { data: unknown[]; total_count: number };
    expect(body).toEqual({ data: [], total_count: 2500 });
  });

  it('serves the JWKS with the emulator kid', async () => {
    const res = await api(emulator, '/jwks');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { keys: Record<string, string>[] };
    expect(body.keys).toHaveLength(1);
    const key = body.keys[0];
    expect(key).toMatchObject({ use: 'sig', kty: 'RSA', kid: emulator.kid, alg: 'RS256', e: 'AQAB' });
    // 2048-bit modulus = 256 bytes = 342 base64url characters without padding.
    expect(key?.n).toMatch(/^[A-Za-z0-9_-]{342}$/);
  });
});
