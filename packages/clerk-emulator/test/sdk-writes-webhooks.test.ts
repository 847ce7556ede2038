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
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

let emulator: RunningClerkEmulator;
let receiver: WebhookReceiver;
let clerk: ReturnType<typeof sdkFor>;
const secret = newWebhookSecret();
let counter = 0;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  emulator = await startClerkEmulator({
    seed: 'empty',
    webhookEndpoints: [{ url: receiver.url, secret }],
    webhookRetryDelaysMs: [10, 10],
  });
  clerk = sdkFor(emulator);
});

// Every test starts from the same delivery setup, whichever test ran before it (tests run in any order): one
// endpoint (the receiver, answering 200) and no duplicate, delay or reorder option.
afterEach(async () => {
  await emulator.control.webhooksSettled();
  emulator.control.setWebhookDelivery({ duplicate: false, reorder: false, delayMs: 0 });
  emulator.control.clearWebhookEndpoints();
  emulator.control.addWebhookEndpoint({ url: receiver.url, secret });
  receiver.respondWith(() => 200);
});

afterAll(async () => {
  await emulator?.close();
  await receiver?.close();
});

function freshUser(firstName = 'Test') {
  counter += 1;
  return emulator.store.createUser({
    firstName,
    lastName: `User${counter}`,
    emailAddress: `writes-${counter}-${Date.now()}@example.test`,
  });
}

function freshOrg() {
  counter += 1;
  return emulator.store.createOrganization({ name: `Writes ${counter}`, slug: `writes-${counter}` });
}

async function memberIds(organizationId: string): Promise<string[]> {
  const list = await clerk.organizations.getOrganizationMembershipList({ organizationId, limit: 500 });
  return list.data.map((m) => m.publicUserData?.userId ?? '');
}

describe('memberships', () => {
  it('createOrganizationMembership returns the membership, shows up in reads, and emits organizationMembership.created', async () => {
    const org = freshOrg();
    const user = freshUser('Ada');
    const membership = await clerk.organizations.createOrganizationMembership({
      organizationId: org.id,
      userId: user.id,
      role: 'org:member',
    });
    expectSdkClass(membership, 'OrganizationMembership');
    expect(membership.id).toMatch(/^orgmem_/);
    expect(membership.role).toBe('org:member');
    expect(membership.organization.id).toBe(org.id);
    expect(membership.publicUserData?.userId).toBe(user.id);
    expect(membership.publicUserData?.identifier).toBe(user.emailAddress);
    expect(membership.publicUserData?.firstName).toBe('Ada');
    expect(typeof membership.createdAt).toBe('number');

    const list = await clerk.organizations.getOrganizationMembershipList({ organizationId: org.id });
    expect(list.totalCount).toBe(1);
    expect(list.data[0]?.id).toBe(membership.id);

    const hook = await receiver.next(ofType('organizationMembership.created', (d) => d.id === membership.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data.object).toBe('organization_membership');
    expect(event.data.role).toBe('org:member');
    expect((event.data.organization as { id: string }).id).toBe(org.id);
    expect((event.data.public_user_data as { user_id: string }).user_id).toBe(user.id);
    expect(hook.headers['svix-id']).toMatch(/^msg_/);
    const svixTimestamp = Number(hook.headers['svix-timestamp']);
    expect(Math.abs(svixTimestamp - Date.now() / 1000)).toBeLessThan(300);
  });

  it('updateOrganizationMembership changes the role, visibly, and emits organizationMembership.updated', async () => {
    const org = freshOrg();
    const user = freshUser();
    const created = emulator.store.addMembership(org.id, user.id, 'org:member');
    const updated = await clerk.organizations.updateOrganizationMembership({
      organizationId: org.id,
      userId: user.id,
      role: 'org:admin',
    });
    expect(updated.id).toBe(created.id);
    expect(updated.role).toBe('org:admin');
    expect(updated.publicUserData?.userId).toBe(user.id);

    const list = await clerk.organizations.getOrganizationMembershipList({ organizationId: org.id });
    expect(list.data.map((m) => m.role)).toEqual(['org:admin']);

    const hook = await receiver.next(ofType('organizationMembership.updated', (d) => d.id === created.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data.role).toBe('org:admin');
  });

  it('deleteOrganizationMembership removes the member and emits organizationMembership.deleted with full data', async () => {
    const org = freshOrg();
    const stay = freshUser();
    const leave = freshUser();
    emulator.store.addMembership(org.id, stay.id);
    const gone = emulator.store.addMembership(org.id, leave.id);
    const deleted = await clerk.organizations.deleteOrganizationMembership({
      organizationId: org.id,
      userId: leave.id,
    });
    expect(deleted.id).toBe(gone.id);
    expect(deleted.publicUserData?.userId).toBe(leave.id);

    expect(await memberIds(org.id)).toEqual([stay.id]);
    const hook = await receiver.next(ofType('organizationMembership.deleted', (d) => d.id === gone.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect((event.data.organization as { id: string }).id).toBe(org.id);
    expect((event.data.public_user_data as { user_id: string }).user_id).toBe(leave.id);
  });

  it('rejects a duplicate membership and an unknown user without changing the roster', async () => {
    const org = freshOrg();
    const user = freshUser();
    emulator.store.addMembership(org.id, user.id);
    const duplicate = await clerkError(
      clerk.organizations.createOrganizationMembership({
        organizationId: org.id,
        userId: user.id,
        role: 'org:member',
      }),
    );
    expect(duplicate.status).toBeGreaterThanOrEqual(400);
    expect(duplicate.status).toBeLessThan(500);
    const unknown = await clerkError(
      clerk.organizations.createOrganizationMembership({
        organizationId: org.id,
        userId: 'user_doesnotexist',
        role: 'org:member',
      }),
    );
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBeLessThan(500);
    expect(await memberIds(org.id)).toEqual([user.id]);
  });
});

describe('invitations', () => {
  it('createOrganizationInvitation returns a pending invitation, listed as pending, and emits organizationInvitation.created', async () => {
    const org = freshOrg();
    const inviter = freshUser();
    emulator.store.addMembership(org.id, inviter.id, 'org:admin');
    const email = `invitee-${Date.now()}@example.test`;
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email,
      role: 'org:member',
      inviterUserId: inviter.id,
    });
    expectSdkClass(invitation, 'OrganizationInvitation');
    expect(invitation.id).toMatch(/^orginv_/);
    expect(invitation.status).toBe('pending');
    expect(invitation.emailAddress).toBe(email);
    expect(invitation.role).toBe('org:member');
    expect(invitation.organizationId).toBe(org.id);
    expect(invitation.expiresAt).toBeGreaterThan(invitation.createdAt);

    const pending = await clerk.organizations.getOrganizationInvitationList({
      organizationId: org.id,
      status: ['pending'],
    });
    expect(pending.data.map((i) => i.id)).toEqual([invitation.id]);

    const hook = await receiver.next(ofType('organizationInvitation.created', (d) => d.id === invitation.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data.organization_id).toBe(org.id);
    expect(event.data.status).toBe('pending');
    expect(event.data.email_address).toBe(email);
    expect(event.data.inviter_id).toBe(inviter.id);
  });

  it('revokeOrganizationInvitation revokes, drops it from the pending list, and emits organizationInvitation.revoked', async () => {
    const org = freshOrg();
    const invitation = emulator.store.addInvitation(org.id, {
      emailAddress: `revoke-${Date.now()}@example.test`,
    });
    const revoked = await clerk.organizations.revokeOrganizationInvitation({
      organizationId: org.id,
      invitationId: invitation.id,
    });
    expect(revoked.id).toBe(invitation.id);
    expect(revoked.status).toBe('revoked');

    const pending = await clerk.organizations.getOrganizationInvitationList({
      organizationId: org.id,
      status: ['pending'],
    });
    expect(pending.totalCount).toBe(0);
    const revokedList = await clerk.organizations.getOrganizationInvitationList({
      organizationId: org.id,
      status: ['revoked'],
    });
    expect(revokedList.data.map((i) => i.id)).toEqual([invitation.id]);

    const hook = await receiver.next(ofType('organizationInvitation.revoked', (d) => d.id === invitation.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data.status).toBe('revoked');
    expect(event.data.organization_id).toBe(org.id);
  });

  it('control.acceptInvitation emits organizationInvitation.accepted and organizationMembership.created', async () => {
    const org = freshOrg();
    const email = `accept-${Date.now()}@example.test`;
    const invitation = emulator.store.addInvitation(org.id, { emailAddress: email, role: 'org:member' });
    const { membershipId, userId } = await emulator.control.acceptInvitation(invitation.id);
    expect(membershipId).toMatch(/^orgmem_/);
    expect(userId).toMatch(/^user_/);

    const accepted = await receiver.next(
      ofType('organizationInvitation.accepted', (d) => d.id === invitation.id),
    );
    const acceptedEvent = expectValidWebhook(secret, accepted, emulator.instanceId);
    expect(acceptedEvent.data.status).toBe('accepted');
    expect(acceptedEvent.data.user_id).toBe(userId);
    expect(acceptedEvent.data.organization_id).toBe(org.id);

    const created = await receiver.next(
      ofType('organizationMembership.created', (d) => d.id === membershipId),
    );
    const createdEvent = expectValidWebhook(secret, created, emulator.instanceId);
    expect((createdEvent.data.public_user_data as { user_id: string }).user_id).toBe(userId);
    expect((createdEvent.data.organization as { id: string }).id).toBe(org.id);

    expect(await memberIds(org.id)).toEqual([userId]);
    const user = await clerk.users.getUser(userId);
    expect(user.primaryEmailAddress?.emailAddress).toBe(email);
    const pending = await clerk.organizations.getOrganizationInvitationList({
      organizationId: org.id,
      status: ['pending'],
    });
    expect(pending.totalCount).toBe(0);
  });

  it('control.acceptInvitation uses an existing user when given one', async () => {
    const org = freshOrg();
    const user = freshUser();
    const invitation = emulator.store.addInvitation(org.id, { emailAddress: user.emailAddress });
    const result = await emulator.control.acceptInvitation(invitation.id, user.id);
    expect(result.userId).toBe(user.id);
    expect(await memberIds(org.id)).toEqual([user.id]);
    await receiver.next(ofType('organizationMembership.created', (d) => d.id === result.membershipId));
  });
});

describe('users', () => {
  it('updateUser changes the names, shows up in memberships, and emits user.updated', async () => {
    const org = freshOrg();
    const user = freshUser('Before');
    emulator.store.addMembership(org.id, user.id);
    const updated = await clerk.users.updateUser(user.id, { firstName: 'After', lastName: 'Renamed' });
    expectSdkClass(updated, 'User');
    expect(updated.id).toBe(user.id);
    expect(updated.firstName).toBe('After');
    expect(updated.lastName).toBe('Renamed');

    expect((await clerk.users.getUser(user.id)).firstName).toBe('After');
    const list = await clerk.organizations.getOrganizationMembershipList({ organizationId: org.id });
    expect(list.data[0]?.publicUserData?.firstName).toBe('After');
    expect(list.data[0]?.publicUserData?.lastName).toBe('Renamed');

    const hook = await receiver.next(ofType('user.updated', (d) => d.id === user.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data.object).toBe('user');
    expect(event.data.first_name).toBe('After');
    expect(event.data.last_name).toBe('Renamed');
  });

  it('deleteUser removes the user and their memberships and emits user.deleted', async () => {
    const org = freshOrg();
    const stay = freshUser();
    const user = freshUser();
    emulator.store.addMembership(org.id, stay.id);
    emulator.store.addMembership(org.id, user.id);
    const deleted = await clerk.users.deleteUser(user.id);
    expect(deleted.id).toBe(user.id);

    const notFound = await clerkError(clerk.users.getUser(user.id));
    expect(notFound.status).toBe(404);
    expect(notFound.errors[0]?.code).toBe('resource_not_found');
    expect(await memberIds(org.id)).toEqual([stay.id]);

    const hook = await receiver.next(ofType('user.deleted', (d) => d.id === user.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data).toMatchObject({ object: 'user', id: user.id, deleted: true });
  });
});

describe('organizations', () => {
  it('createOrganization creates it, makes createdBy an admin, and emits organization.created', async () => {
    const creator = freshUser();
    const slug = `created-${Date.now()}`;
    const org = await clerk.organizations.createOrganization({
      name: 'Created Org',
      slug,
      createdBy: creator.id,
    });
    expectSdkClass(org, 'Organization');
    expect(org.id).toMatch(/^org_/);
    expect(org.name).toBe('Created Org');
    expect(org.slug).toBe(slug);
    expect(org.createdAt).toBeGreaterThan(1_577_836_800_000);

    const bySlug = await clerk.organizations.getOrganization({ slug });
    expect(bySlug.id).toBe(org.id);
    const list = await clerk.organizations.getOrganizationMembershipList({ organizationId: org.id });
    expect(list.data.map((m) => [m.publicUserData?.userId, m.role])).toEqual([[creator.id, 'org:admin']]);

    const hook = await receiver.next(ofType('organization.created', (d) => d.id === org.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data).toMatchObject({ object: 'organization', id: org.id, name: 'Created Org', slug });
  });

  it('createOrganization without a slug derives one', async () => {
    const org = await clerk.organizations.createOrganization({ name: `No Slug ${Date.now()}` });
    expect(org.slug.length).toBeGreaterThan(0);
    expect((await clerk.organizations.getOrganization({ organizationId: org.id })).slug).toBe(org.slug);
    await receiver.next(ofType('organization.created', (d) => d.id === org.id));
  });

  it('deleteOrganization deletes it and emits organization.deleted', async () => {
    const org = freshOrg();
    const deleted = await clerk.organizations.deleteOrganization(org.id);
    expect(deleted.id).toBe(org.id);

    const notFound = await clerkError(clerk.organizations.getOrganization({ organizationId: org.id }));
    expect(notFound.status).toBe(404);
    const listed = await clerk.organizations.getOrganizationList({ limit: 500 });
    expect(listed.data.map((o) => o.id)).not.toContain(org.id);

    const hook = await receiver.next(ofType('organization.deleted', (d) => d.id === org.id));
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data).toMatchObject({ object: 'organization', id: org.id, slug: org.slug, deleted: true });
  });
});

describe('webhook delivery', () => {
  it('retries a failed delivery with the same svix-id and records both attempts', async () => {
    const org = freshOrg();
    const user = freshUser();
    let failedOnce = false;
    receiver.respondWith((hook) => {
      const event = eventOf(hook);
      if (event.type === 'organizationMembership.created' && !failedOnce) {
        failedOnce = true;
        return 500;
      }
      return 200;
    });
    const membership = await clerk.organizations.createOrganizationMembership({
      organizationId: org.id,
      userId: user.id,
      role: 'org:member',
    });
    const isMine = ofType('organizationMembership.created', (d) => d.id === membership.id);
    const first = await receiver.next(isMine);
    const second = await receiver.next(isMine);
    expect(first.status).toBe(500);
    expect(second.status).toBe(200);
    expect(second.headers['svix-id']).toBe(first.headers['svix-id']);
    expectValidWebhook(secret, first, emulator.instanceId);
    expectValidWebhook(secret, second, emulator.instanceId);

    await emulator.control.webhooksSettled();
    const msgId = first.headers['svix-id'];
    const attempts = emulator.control.deliveries().filter((d) => d.msgId === msgId);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    expect(attempts[0]?.eventType).toBe('organizationMembership.created');
    expect(attempts[0]?.url).toBe(receiver.url);
  });

  it('gives up after the configured retries when the endpoint keeps failing', async () => {
    const org = freshOrg();
    receiver.respondWith(() => 503);
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: `giveup-${Date.now()}@example.test`,
      role: 'org:member',
    });
    await emulator.control.webhooksSettled();
    const attempts = emulator.control
      .deliveries()
      .filter((d) => d.eventType === 'organizationInvitation.created')
      .filter((d) => {
        const hook = receiver.received.find((h) => h.headers['svix-id'] === d.msgId);
        return hook !== undefined && eventOf(hook).data.id === invitation.id;
      });
    // webhookRetryDelaysMs [10, 10]: the first attempt and two retries.
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(attempts.every((a) => a.status === 503)).toBe(true);
  });

  it('duplicate delivery sends each message twice with the same svix-id', async () => {
    emulator.control.setWebhookDelivery({ duplicate: true });
    const org = freshOrg();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: `dup-${Date.now()}@example.test`,
      role: 'org:member',
    });
    const isMine = ofType('organizationInvitation.created', (d) => d.id === invitation.id);
    const first = await receiver.next(isMine);
    const second = await receiver.next(isMine);
    expect(second.headers['svix-id']).toBe(first.headers['svix-id']);
    expectValidWebhook(secret, first, emulator.instanceId);
    expectValidWebhook(secret, second, emulator.instanceId);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
  });

  it('delayMs holds a message at least that long before its first attempt', async () => {
    emulator.control.setWebhookDelivery({ delayMs: 150 });
    const org = freshOrg();
    const started = Date.now();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: `delay-${Date.now()}@example.test`,
      role: 'org:member',
    });
    const hook = await receiver.next(ofType('organizationInvitation.created', (d) => d.id === invitation.id));
    expect(hook.receivedAt - started).toBeGreaterThanOrEqual(150);
  });

  it('reorder delivers the messages of one write in reverse order', async () => {
    const order = async (reorder: boolean): Promise<string[]> => {
      emulator.control.setWebhookDelivery({ reorder });
      const org = freshOrg();
      const invitation = emulator.store.addInvitation(org.id, {
        emailAddress: `reorder-${Date.now()}@x.test`,
      });
      const before = receiver.received.length;
      const { membershipId } = await emulator.control.acceptInvitation(invitation.id);
      await emulator.control.webhooksSettled();
      return receiver.received
        .slice(before)
        .map((hook) => eventOf(hook))
        .filter((event) => event.data.id === invitation.id || event.data.id === membershipId)
        .map((event) => event.type);
    };
    const natural = await order(false);
    const reversed = await order(true);
    expect(natural).toHaveLength(2);
    expect([...natural].sort()).toEqual([
      'organizationInvitation.accepted',
      'organizationMembership.created',
    ]);
    expect(reversed).toEqual([...natural].reverse());
  });

  it('addWebhookEndpoint delivers to an endpoint added at runtime, signed with its own secret', async () => {
    const other = await startWebhookReceiver();
    const otherSecret = newWebhookSecret();
    try {
      emulator.control.addWebhookEndpoint({ url: other.url, secret: otherSecret });
      const org = freshOrg();
      const user = freshUser();
      const membership = await clerk.organizations.createOrganizationMembership({
        organizationId: org.id,
        userId: user.id,
        role: 'org:member',
      });
      const hook = await other.next(ofType('organizationMembership.created', (d) => d.id === membership.id));
      expectValidWebhook(otherSecret, hook, emulator.instanceId);
      expect(() => expectValidWebhook(secret, hook, emulator.instanceId)).toThrow();
      await emulator.control.webhooksSettled();
    } finally {
      await other.close();
    }
  });

  it('store writes emit no webhooks', async () => {
    await emulator.control.webhooksSettled();
    const before = receiver.received.length;
    const org = freshOrg();
    const user = freshUser();
    emulator.store.addMembership(org.id, user.id);
    emulator.store.addInvitation(org.id, { emailAddress: `quiet-${Date.now()}@example.test` });
    emulator.store.populate(org.id, 5);
    await emulator.control.webhooksSettled();
    expect(receiver.received.length).toBe(before);
    expect(
      (await clerk.organizations.getOrganizationMembershipList({ organizationId: org.id })).totalCount,
    ).toBe(6);
  });
});
