/**
 * Invitation expiry as Clerk reports it, made testable without sleeping: `POST /__emulator/invitations/{id}/expire`
 * (an invitation whose `expires_at` has passed) and `POST /__emulator/clock` (the emulator's clock moved forward).
 * An expired invitation reads as 'expired' on every read, is not `?status=pending`, holds no seat, cannot be
 * revoked (404 organization_invitation_not_pending) or accepted, frees its email for a new invitation, and emits
 * nothing: Clerk's webhooks YAML has no organizationInvitation.expired event. Raw answers are checked against the
 * OpenAPI file, errors included.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningClerkEmulator, startClerkEmulator } from '../src/index.js';
import { DAY_MS } from '../src/store.js';
import { clerkError, eventOf, expectValidWebhook, newWebhookSecret, ofType, sdkFor } from './helpers.js';
import { specCall } from './openapi.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

let emulator: RunningClerkEmulator;
let receiver: WebhookReceiver;
let clerk: ReturnType<typeof sdkFor>;
const secret = newWebhookSecret();
let counter = 0;

const ORG = '/organizations/{organization_id}';
const ORGANIZATION = ORG;
const INVITATIONS = `${ORG}/invitations`;
const INVITATION = `${ORG}/invitations/{invitation_id}`;
const REVOKE = `${ORG}/invitations/{invitation_id}/revoke`;
const MEMBERSHIPS = `${ORG}/memberships`;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  emulator = await startClerkEmulator({
    seed: 'empty',
    webhookEndpoints: [{ url: receiver.url, secret }],
    webhookRetryDelaysMs: [10, 10],
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

const email = () => `expiry-${++counter}-${Math.random().toString(36).slice(2)}@example.test`;

function freshUser() {
  return emulator.store.createUser({ firstName: 'Exp', lastName: `Iry${++counter}`, emailAddress: email() });
}

function team(maxAllowedMemberships = 0) {
  counter += 1;
  const org = emulator.store.createOrganization({ name: `Expiry ${counter}`, slug: `expiry-${counter}` });
  const admin = freshUser();
  emulator.store.addMembership(org.id, admin.id, 'org:admin');
  if (maxAllowedMemberships > 0) emulator.store.updateOrganization(org.id, { maxAllowedMemberships });
  return { org, admin };
}

async function controlCall(
  target: RunningClerkEmulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${target.url}/__emulator${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const expire = (invitationId: string, body: unknown = {}) =>
  controlCall(emulator, 'POST', `/invitations/${invitationId}/expire`, body);

/** Every webhook delivered so far that names this organization, once deliveries have settled. */
async function hooksFor(organizationId: string) {
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

describe('an expired invitation on every read', () => {
  it("reads as 'expired' (get, list, ?status=expired), is not ?status=pending, and leaves pending_invitations_count", async () => {
    const { org, admin } = team();
    const kept = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
      inviterUserId: admin.id,
    });
    const lapsing = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    expect(emulator.store.pendingInvitationsCount(org.id)).toBe(2);

    const answer = await expire(lapsing.id);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: lapsing.id, status: 'expired' });
    expect(answer.body.expires_at as number).toBeLessThanOrEqual(emulator.store.clock());

    const one = await clerk.organizations.getOrganizationInvitation({
      organizationId: org.id,
      invitationId: lapsing.id,
    });
    expect(one.status).toBe('expired');
    const raw = await specCall(
      emulator,
      'GET',
      INVITATION,
      { organization_id: org.id, invitation_id: lapsing.id },
      undefined,
      200,
    );
    expect(raw.status).toBe('expired');

    const all = await clerk.organizations.getOrganizationInvitationList({ organizationId: org.id });
    expect(new Map(all.data.map((i) => [i.id, i.status]))).toEqual(
      new Map([
        [kept.id, 'pending'],
        [lapsing.id, 'expired'],
      ]),
    );
    const pending = await specCall(
      emulator,
      'GET',
      INVITATIONS,
      { organization_id: org.id },
      undefined,
      200,
      {
        status: 'pending',
      },
    );
    expect((pending.data as { id: string }[]).map((i) => i.id)).toEqual([kept.id]);
    expect(pending.total_count).toBe(1);
    const expired = await clerk.organizations.getOrganizationInvitationList({
      organizationId: org.id,
      status: ['expired'],
    });
    expect(expired.data.map((i) => i.id)).toEqual([lapsing.id]);

    const organization = await specCall(
      emulator,
      'GET',
      ORGANIZATION,
      { organization_id: org.id },
      undefined,
      200,
    );
    expect(organization.pending_invitations_count).toBe(1);
  });

  it('sends no webhook: Clerk has no organizationInvitation.expired event', async () => {
    const { org } = team();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    await receiver.next(ofType('organizationInvitation.created', (d) => d.id === invitation.id));
    const before = (await hooksFor(org.id)).length;
    await expire(invitation.id);
    expect((await hooksFor(org.id)).length).toBe(before);
  });
});

describe('an expired invitation holds no seat', () => {
  it('the last seat, taken by a pending invitation, is free again once that invitation expires', async () => {
    const { org } = team(2);
    const holder = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    const refused = await specCall(
      emulator,
      'POST',
      INVITATIONS,
      { organization_id: org.id },
      { email_address: email(), role: 'org:member' },
      403,
    );
    expect(refused.errors?.[0]?.code).toBe('organization_membership_quota_exceeded');
    const user = freshUser();
    const err = await clerkError(
      clerk.organizations.createOrganizationMembership({
        organizationId: org.id,
        userId: user.id,
        role: 'org:member',
      }),
    );
    expect(err.errors[0]?.code).toBe('organization_membership_quota_exceeded');

    await expire(holder.id);
    const member = await specCall(
      emulator,
      'POST',
      MEMBERSHIPS,
      { organization_id: org.id },
      { user_id: user.id, role: 'org:member' },
      200,
    );
    expect((member.organization as { members_count: number }).members_count).toBe(2);
  });

  it('bulk invitations count only pending, unexpired invitations against max_allowed_memberships', async () => {
    const { org } = team(4);
    const old = await clerk.organizations.createOrganizationInvitationBulk(org.id, [
      { emailAddress: email(), role: 'org:member' },
      { emailAddress: email(), role: 'org:member' },
      { emailAddress: email(), role: 'org:member' },
    ]);
    await expire(old.data[0]?.id as string);
    await expire(old.data[1]?.id as string);
    // 1 member + 1 pending = 2 seats; two more fit, three do not.
    const tooMany = await clerkError(
      clerk.organizations.createOrganizationInvitationBulk(org.id, [
        { emailAddress: email(), role: 'org:member' },
        { emailAddress: email(), role: 'org:member' },
        { emailAddress: email(), role: 'org:member' },
      ]),
    );
    expect(tooMany.errors[0]?.code).toBe('organization_membership_quota_exceeded');
    const fits = await clerk.organizations.createOrganizationInvitationBulk(org.id, [
      { emailAddress: email(), role: 'org:member' },
      { emailAddress: email(), role: 'org:member' },
    ]);
    expect(fits.totalCount).toBe(2);
  });

  it('PATCH max_allowed_memberships emits organization.updated whose pending_invitations_count leaves expired invitations out', async () => {
    const { org } = team();
    const bulk = await clerk.organizations.createOrganizationInvitationBulk(org.id, [
      { emailAddress: email(), role: 'org:member' },
      { emailAddress: email(), role: 'org:member' },
    ]);
    await expire(bulk.data[0]?.id as string);
    const updated = await specCall(
      emulator,
      'PATCH',
      ORGANIZATION,
      { organization_id: org.id },
      { max_allowed_memberships: 3 },
      200,
    );
    expect(updated).toMatchObject({
      max_allowed_memberships: 3,
      pending_invitations_count: 1,
      members_count: 1,
    });
    const hook = await receiver.next(
      ofType('organization.updated', (d) => d.id === org.id && d.max_allowed_memberships === 3),
    );
    const event = expectValidWebhook(secret, hook, emulator.instanceId);
    expect(event.data).toMatchObject({ pending_invitations_count: 1, role_set_key: 'role_set:default' });
  });
});

describe('an expired invitation is no longer pending', () => {
  it('revoking it → 404 organization_invitation_not_pending, and no organizationInvitation.revoked', async () => {
    const { org, admin } = team();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    await expire(invitation.id);
    const raw = await specCall(
      emulator,
      'POST',
      REVOKE,
      { organization_id: org.id, invitation_id: invitation.id },
      { requesting_user_id: admin.id },
      404,
    );
    expect(raw.errors?.[0]?.code).toBe('organization_invitation_not_pending');
    const err = await clerkError(
      clerk.organizations.revokeOrganizationInvitation({
        organizationId: org.id,
        invitationId: invitation.id,
        requestingUserId: admin.id,
      }),
    );
    expect(err.status).toBe(404);
    expect((await hooksFor(org.id)).filter((e) => e.type === 'organizationInvitation.revoked')).toEqual([]);
    const stored = emulator.store.getInvitation(invitation.id);
    expect(stored && emulator.store.invitationStatus(stored)).toBe('expired');
  });

  it('accepting it is refused, and its email may be invited again (only pending invitations are duplicates)', async () => {
    const { org } = team();
    const address = email();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: address,
      role: 'org:member',
    });
    await expire(invitation.id);
    const accept = await controlCall(emulator, 'POST', `/invitations/${invitation.id}/accept`, {});
    expect(accept.status).toBe(404);
    expect((accept.body.errors as { code: string }[])[0]?.code).toBe('organization_invitation_not_pending');
    expect(
      emulator.store.getMembership(org.id, emulator.store.findUserByEmail(address)?.id ?? ''),
    ).toBeUndefined();

    const again = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: address,
      role: 'org:admin',
    });
    expect(again.status).toBe('pending');
    expect(again.id).not.toBe(invitation.id);
  });
});

describe('POST /__emulator/invitations/{id}/expire', () => {
  it('takes an optional past expires_at (epoch ms) and answers the invitation as Clerk would now read it', async () => {
    const { org } = team();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    // Its creation time: in the past or now, never ahead of the emulator's clock (createdAt + 1 could be, within
    // the same millisecond, and be refused as a future time).
    const at = invitation.createdAt;
    const answer = await expire(invitation.id, { expires_at: at });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'expired',
      expires_at: at,
      updated_at: invitation.updatedAt,
    });
  });

  it('refuses a future expires_at, an unknown invitation and a revoked one, changing nothing', async () => {
    const { org } = team();
    const invitation = await clerk.organizations.createOrganizationInvitation({
      organizationId: org.id,
      emailAddress: email(),
      role: 'org:member',
    });
    const future = await expire(invitation.id, { expires_at: emulator.store.clock() + DAY_MS });
    expect(future.status).toBe(400);
    const notInteger = await expire(invitation.id, { expires_at: 'yesterday' });
    expect(notInteger.status).toBe(400);
    expect(emulator.store.getInvitation(invitation.id)?.expiresAt).toBe(invitation.expiresAt);

    const unknown = await expire('orginv_missing');
    expect(unknown.status).toBe(404);

    await clerk.organizations.revokeOrganizationInvitation({
      organizationId: org.id,
      invitationId: invitation.id,
    });
    const revoked = await expire(invitation.id);
    expect(revoked.status).toBe(404);
    expect((revoked.body.errors as { code: string }[])[0]?.code).toBe('organization_invitation_not_pending');
  });
});

describe('POST /__emulator/clock {advance_ms}', () => {
  let clocked: RunningClerkEmulator;

  beforeAll(async () => {
    // Its own emulator: moving the clock ages every invitation of the instance.
    clocked = await startClerkEmulator({ seed: 'demo' });
  });

  afterAll(async () => {
    await clocked?.close();
  });

  it('moves the emulator clock forward: invitations expire at expires_at (expires_in_days), new records are stamped later', async () => {
    const orgId = clocked.demo?.acme.organizationId as string;
    const sdk = sdkFor(clocked);
    const start = await controlCall(clocked, 'GET', '/clock');
    expect(start.body.offset_ms).toBe(0);

    const demoPending = await sdk.organizations.getOrganizationInvitationList({
      organizationId: orgId,
      status: ['pending'],
    });
    expect(demoPending.totalCount).toBe(3);
    const oneDay = await sdk.organizations.createOrganizationInvitation({
      organizationId: orgId,
      emailAddress: email(),
      role: 'org:member',
      expiresInDays: 1,
    });

    const almost = await controlCall(clocked, 'POST', '/clock', { advance_ms: DAY_MS - 60_000 });
    expect(almost.status).toBe(200);
    expect(almost.body.offset_ms).toBe(DAY_MS - 60_000);
    expect((almost.body.now as number) - (start.body.now as number)).toBeGreaterThanOrEqual(DAY_MS - 60_000);
    const stillPending = await sdk.organizations.getOrganizationInvitation({
      organizationId: orgId,
      invitationId: oneDay.id,
    });
    expect(stillPending.status).toBe('pending');

    await controlCall(clocked, 'POST', '/clock', { advance_ms: 60_000 });
    const lapsed = await sdk.organizations.getOrganizationInvitation({
      organizationId: orgId,
      invitationId: oneDay.id,
    });
    expect(lapsed.status).toBe('expired');
    // The demo's invitations live 30 days from the emulator's start.
    expect(
      (await sdk.organizations.getOrganizationInvitationList({ organizationId: orgId, status: ['pending'] }))
        .totalCount,
    ).toBe(3);
    await controlCall(clocked, 'POST', '/clock', { advance_ms: 30 * DAY_MS });
    const afterMonth = await specCall(
      clocked,
      'GET',
      INVITATIONS,
      { organization_id: orgId },
      undefined,
      200,
      {
        status: 'pending',
      },
    );
    expect(afterMonth.total_count).toBe(0);
    const organization = await specCall(
      clocked,
      'GET',
      ORGANIZATION,
      { organization_id: orgId },
      undefined,
      200,
    );
    expect(organization.pending_invitations_count).toBe(0);

    const later = await sdk.organizations.createOrganizationInvitation({
      organizationId: orgId,
      emailAddress: email(),
      role: 'org:member',
    });
    expect(later.createdAt).toBeGreaterThanOrEqual((start.body.now as number) + 31 * DAY_MS);
    expect(later.status).toBe('pending');
  });

  it('only moves forward: a negative or missing advance_ms → 400, the clock unchanged', async () => {
    const before = (await controlCall(clocked, 'GET', '/clock')).body.offset_ms;
    for (const body of [{ advance_ms: -1 }, {}, { advance_ms: '1d' }]) {
      const answer = await controlCall(clocked, 'POST', '/clock', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    expect((await controlCall(clocked, 'GET', '/clock')).body.offset_ms).toBe(before);
  });
});
