/**
 * Writes as Clerk performs them: change the store, then emit the webhooks Clerk would emit for that write.
 * Used by the `/v1` handlers and by the control API (e.g. accepting an invitation).
 */
import { clerkErrors } from './errors.js';
import {
  acceptedInvitationJson,
  deletedObjectJson,
  invitationJson,
  type Json,
  membershipJson,
  organizationJson,
  userJson,
} from './serialize.js';
import type { Metadata, Store } from './store.js';
import type { HttpRequestInfo, WebhookDispatcher, WebhookEvent } from './webhooks.js';

/** What the webhook envelope reports when a write comes from the control API rather than a /v1 call. */
export const CONTROL_REQUEST: HttpRequestInfo = {
  clientIp: '127.0.0.1',
  userAgent: 'clerk-emulator-control',
};

const ROLE_PATTERN = /^org:[A-Za-z0-9_:-]+$/;

export function validateRole(role: string, param = 'role'): string {
  if (!ROLE_PATTERN.test(role)) {
    throw clerkErrors.paramValue(param, `${param} must be a role key such as org:admin or org:member.`);
  }
  return role;
}

export class Actions {
  constructor(
    private readonly store: Store,
    private readonly webhooks: WebhookDispatcher,
  ) {}

  private emit(events: WebhookEvent[], request: HttpRequestInfo): void {
    this.webhooks.emit(events, request);
  }

  // ---- memberships ----

  createMembership(
    organizationId: string,
    input: { userId: string; role: string; publicMetadata?: Metadata; privateMetadata?: Metadata },
    request: HttpRequestInfo,
  ): Json {
    const org = this.store.requireOrganization(organizationId);
    validateRole(input.role);
    const membership = this.store.addMembership(org.id, input.userId, input.role);
    if (input.publicMetadata) membership.publicMetadata = input.publicMetadata;
    if (input.privateMetadata) membership.privateMetadata = input.privateMetadata;
    const json = membershipJson(this.store, membership);
    this.emit([{ type: 'organizationMembership.created', data: json }], request);
    return json;
  }

  updateMembership(organizationId: string, userId: string, role: string, request: HttpRequestInfo): Json {
    const org = this.store.requireOrganization(organizationId);
    validateRole(role);
    const membership = this.store.updateMembershipRole(org.id, userId, role);
    const json = membershipJson(this.store, membership);
    this.emit([{ type: 'organizationMembership.updated', data: json }], request);
    return json;
  }

  deleteMembership(organizationId: string, userId: string, request: HttpRequestInfo): Json {
    const org = this.store.requireOrganization(organizationId);
    const membership = this.store.removeMembership(org.id, userId);
    const json = membershipJson(this.store, membership);
    this.emit([{ type: 'organizationMembership.deleted', data: json }], request);
    return json;
  }

  // ---- invitations ----

  createInvitation(
    organizationId: string,
    input: {
      emailAddress: string;
      role: string;
      inviterUserId?: string;
      expiresInDays?: number;
      publicMetadata?: Metadata;
      privateMetadata?: Metadata;
    },
    request: HttpRequestInfo,
  ): Json {
    const org = this.store.requireOrganization(organizationId);
    validateRole(input.role);
    const email = input.emailAddress.trim();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      throw clerkErrors.paramFormat('email_address', 'a valid email address');
    }
    if (input.expiresInDays !== undefined && (input.expiresInDays < 1 || input.expiresInDays > 365)) {
      throw clerkErrors.paramValue('expires_in_days', 'expires_in_days must be between 1 and 365.');
    }
    const existing = this.store.findUserByEmail(email);
    if (existing && this.store.getMembership(org.id, existing.id)) throw clerkErrors.alreadyMember();
    if (this.store.hasPendingInvitation(org.id, email)) throw clerkErrors.duplicateInvitation();
    const invitation = this.store.addInvitation(org.id, {
      emailAddress: email,
      role: input.role,
      inviterUserId: input.inviterUserId ?? null,
      expiresInDays: input.expiresInDays ?? null,
      publicMetadata: input.publicMetadata ?? null,
      privateMetadata: input.privateMetadata ?? null,
    });
    const json = invitationJson(this.store, invitation);
    this.emit([{ type: 'organizationInvitation.created', data: json }], request);
    return json;
  }

  revokeInvitation(organizationId: string, invitationId: string, request: HttpRequestInfo): Json {
    const org = this.store.requireOrganization(organizationId);
    const invitation = this.store.requireInvitation(org.id, invitationId);
    this.store.setInvitationStatus(invitation, 'revoked');
    const json = invitationJson(this.store, invitation);
    this.emit([{ type: 'organizationInvitation.revoked', data: json }], request);
    return json;
  }

  /**
   * Accepts a pending invitation as `userId`, or as the user owning the invited email address, or as a new user
   * with that address. Emits user.created (for a new user), organizationInvitation.accepted and
   * organizationMembership.created.
   */
  acceptInvitation(
    invitationId: string,
    userId: string | undefined,
    request: HttpRequestInfo = CONTROL_REQUEST,
  ): { membershipId: string; userId: string } {
    const invitation = this.store.getInvitation(invitationId);
    if (!invitation) throw clerkErrors.notFound();
    if (invitation.status !== 'pending') throw clerkErrors.invitationNotPending();
    const events: WebhookEvent[] = [];
    let user = userId ? this.store.requireUser(userId) : this.store.findUserByEmail(invitation.emailAddress);
    if (user && this.store.getMembership(invitation.organizationId, user.id))
      throw clerkErrors.alreadyMember();
    if (!user) {
      user = this.store.createUser({ emailAddress: invitation.emailAddress });
      events.push({ type: 'user.created', data: userJson(user) });
    }
    const membership = this.store.addMembership(invitation.organizationId, user.id, invitation.role);
    membership.publicMetadata = { ...invitation.publicMetadata };
    membership.privateMetadata = { ...invitation.privateMetadata };
    this.store.setInvitationStatus(invitation, 'accepted');
    events.push({
      type: 'organizationInvitation.accepted',
      data: acceptedInvitationJson(this.store, invitation, user.id),
    });
    events.push({ type: 'organizationMembership.created', data: membershipJson(this.store, membership) });
    this.emit(events, request);
    return { membershipId: membership.id, userId: user.id };
  }

  // ---- users ----

  updateUser(
    userId: string,
    patch: {
      firstName?: string | null;
      lastName?: string | null;
      username?: string | null;
      externalId?: string | null;
    },
    request: HttpRequestInfo,
  ): Json {
    const user = this.store.updateUser(userId, patch);
    const json = userJson(user);
    this.emit([{ type: 'user.updated', data: json }], request);
    return json;
  }

  /** Removes the user's memberships (organizationMembership.deleted each), then the user (user.deleted). */
  deleteUser(userId: string, request: HttpRequestInfo): Json {
    this.store.requireUser(userId);
    const events: WebhookEvent[] = [];
    for (const membership of this.store.membershipsOfUser(userId)) {
      this.store.removeMembership(membership.organizationId, userId);
      events.push({ type: 'organizationMembership.deleted', data: membershipJson(this.store, membership) });
    }
    this.store.deleteUser(userId);
    const deleted = deletedObjectJson('user', userId);
    events.push({ type: 'user.deleted', data: deleted });
    this.emit(events, request);
    return deleted;
  }

  // ---- organizations ----

  createOrganization(
    input: {
      name: string;
      slug?: string;
      createdBy?: string;
      maxAllowedMemberships?: number;
      publicMetadata?: Metadata;
      privateMetadata?: Metadata;
    },
    request: HttpRequestInfo,
  ): Json {
    const org = this.store.createOrganization(input);
    const creatorMembership = input.createdBy
      ? this.store.addMembership(org.id, input.createdBy, 'org:admin')
      : undefined;
    const json = organizationJson(this.store, org);
    const events: WebhookEvent[] = [{ type: 'organization.created', data: json }];
    if (creatorMembership) {
      events.push({
        type: 'organizationMembership.created',
        data: membershipJson(this.store, creatorMembership),
      });
    }
    this.emit(events, request);
    return json;
  }

  updateOrganization(
    organizationId: string,
    patch: { name?: string; slug?: string; maxAllowedMemberships?: number; adminDeleteEnabled?: boolean },
    request: HttpRequestInfo,
  ): Json {
    const org = this.store.updateOrganization(organizationId, patch);
    const json = organizationJson(this.store, org);
    this.emit([{ type: 'organization.updated', data: json }], request);
    return json;
  }

  /** Deletes the organization with its memberships and invitations; Clerk emits only organization.deleted. */
  deleteOrganization(organizationId: string, request: HttpRequestInfo): Json {
    const org = this.store.deleteOrganization(organizationId);
    const deleted = deletedObjectJson('organization', org.id, org.slug);
    this.emit([{ type: 'organization.deleted', data: deleted }], request);
    return deleted;
  }
}
