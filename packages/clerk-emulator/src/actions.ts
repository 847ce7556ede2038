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
  listJson,
  membershipJson,
  organizationJson,
  permissionJson,
  roleJson,
  userJson,
} from './serialize.js';
import type { Metadata, Store, StoredInvitation } from './store.js';
import type { HttpRequestInfo, WebhookDispatcher, WebhookEvent } from './webhooks.js';

/** What the webhook envelope reports when a write comes from the control API rather than a /v1 call. */
export const CONTROL_REQUEST: HttpRequestInfo = {
  clientIp: '127.0.0.1',
  userAgent: 'clerk-emulator-control',
};

/** A role the instance defines, else Clerk's OrganizationRoleNotFound (404 resource_not_found). */
export function validateRole(store: Store, role: string, param = 'role'): string {
  if (!store.roles.isKnown(role)) throw clerkErrors.roleNotFound(param);
  return role;
}

/** Clerk's documented limit of the bulk invitation endpoint (OpenAPI `maxItems: 10`). */
export const BULK_INVITATIONS_MAX = 10;

export interface InvitationInput {
  emailAddress: string;
  role: string;
  inviterUserId?: string;
  expiresInDays?: number;
  publicMetadata?: Metadata;
  privateMetadata?: Metadata;
}

const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export class Actions {
  /** Clerk's organization_minimum_permissions_needed check; on by default, as in Clerk (see `minimumPermissionsCheck`). */
  minimumPermissionsCheck = true;

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
    validateRole(this.store, input.role);
    if (this.store.getMembership(org.id, input.userId)) {
      throw clerkErrors.alreadyMember(this.store.getUser(input.userId)?.emailAddress);
    }
    this.requireSeats(org.id, 1);
    const membership = this.store.addMembership(org.id, input.userId, input.role);
    if (input.publicMetadata) membership.publicMetadata = input.publicMetadata;
    if (input.privateMetadata) membership.privateMetadata = input.privateMetadata;
    const json = membershipJson(this.store, membership);
    this.emit([{ type: 'organizationMembership.created', data: json }], request);
    return json;
  }

  updateMembership(organizationId: string, userId: string, role: string, request: HttpRequestInfo): Json {
    const org = this.store.requireOrganization(organizationId);
    validateRole(this.store, role);
    const current = this.store.requireMembership(org.id, userId);
    if (!this.store.roles.canManageMemberships(role))
      this.requireAnotherManager(org.id, current.userId, current.role);
    const membership = this.store.updateMembershipRole(org.id, userId, role);
    const json = membershipJson(this.store, membership);
    this.emit([{ type: 'organizationMembership.updated', data: json }], request);
    return json;
  }

  deleteMembership(organizationId: string, userId: string, request: HttpRequestInfo): Json {
    const org = this.store.requireOrganization(organizationId);
    const current = this.store.requireMembership(org.id, userId);
    this.requireAnotherManager(org.id, current.userId, current.role);
    const membership = this.store.removeMembership(org.id, userId);
    const json = membershipJson(this.store, membership);
    this.emit([{ type: 'organizationMembership.deleted', data: json }], request);
    return json;
  }

  // ---- invitations ----

  /**
   * Seats: members plus pending invitations may not exceed `max_allowed_memberships` (0 = unlimited) after adding
   * `adding` more, else Clerk's organization_membership_quota_exceeded (403).
   */
  private requireSeats(organizationId: string, adding: number): void {
    const max = this.store.requireOrganization(organizationId).maxAllowedMemberships;
    if (max > 0 && this.store.seatsUsed(organizationId) + adding > max) throw clerkErrors.quotaExceeded(max);
  }

  /**
   * A member whose role holds org:sys_memberships:manage may lose it (demotion, removal) only while another member
   * holds it, else Clerk's organization_minimum_permissions_needed. A member without it changes nothing here, so
   * an organization that never had a manager (store setup) stays writable.
   */
  private requireAnotherManager(organizationId: string, userId: string, role: string): void {
    if (!this.minimumPermissionsCheck || !this.store.roles.canManageMemberships(role)) return;
    const another = this.store
      .membershipsAscending(organizationId)
      .some((m) => m.userId !== userId && this.store.roles.canManageMemberships(m.role));
    if (!another) throw clerkErrors.minimumPermissionsNeeded();
  }

  /** Validates one invitation against the organization as it stands (and the earlier items of a batch). */
  private checkInvitation(organizationId: string, input: InvitationInput, batchEmails: Set<string>): string {
    validateRole(this.store, input.role);
    const email = input.emailAddress.trim();
    if (!EMAIL_PATTERN.test(email)) throw clerkErrors.paramFormat('email_address', 'a valid email address');
    if (input.expiresInDays !== undefined && (input.expiresInDays < 1 || input.expiresInDays > 365)) {
      throw clerkErrors.paramValue('expires_in_days', 'expires_in_days must be between 1 and 365.');
    }
    if (input.inviterUserId) this.store.requireUser(input.inviterUserId);
    const existing = this.store.findUserByEmail(email);
    if (existing && this.store.getMembership(organizationId, existing.id))
      throw clerkErrors.alreadyMember(email);
    const key = email.toLowerCase();
    if (batchEmails.has(key) || this.store.hasPendingInvitation(organizationId, email)) {
      throw clerkErrors.duplicateInvitation();
    }
    batchEmails.add(key);
    return email;
  }

  private addInvitation(organizationId: string, email: string, input: InvitationInput): StoredInvitation {
    return this.store.addInvitation(organizationId, {
      emailAddress: email,
      role: input.role,
      inviterUserId: input.inviterUserId ?? null,
      expiresInDays: input.expiresInDays ?? null,
      publicMetadata: input.publicMetadata ?? null,
      privateMetadata: input.privateMetadata ?? null,
    });
  }

  createInvitation(organizationId: string, input: InvitationInput, request: HttpRequestInfo): Json {
    const org = this.store.requireOrganization(organizationId);
    const email = this.checkInvitation(org.id, input, new Set());
    this.requireSeats(org.id, 1);
    const invitation = this.addInvitation(org.id, email, input);
    const json = invitationJson(this.store, invitation);
    this.emit([{ type: 'organizationInvitation.created', data: json }], request);
    return json;
  }

  /**
   * `POST /v1/organizations/{id}/invitations/bulk`: 1..10 invitations, all or none. Every item is checked (and the
   * seats for all of them) before any is created; the answer is the list `{data, total_count}` in request order,
   * and each invitation emits its own organizationInvitation.created.
   */
  createInvitationsBulk(organizationId: string, inputs: InvitationInput[], request: HttpRequestInfo): Json {
    const org = this.store.requireOrganization(organizationId);
    if (inputs.length === 0) throw clerkErrors.requestBodyInvalid();
    if (inputs.length > BULK_INVITATIONS_MAX) throw clerkErrors.bulkSizeExceeded(BULK_INVITATIONS_MAX);
    const batchEmails = new Set<string>();
    const emails = inputs.map((input) => this.checkInvitation(org.id, input, batchEmails));
    this.requireSeats(org.id, inputs.length);
    const data = inputs.map((input, index) =>
      invitationJson(this.store, this.addInvitation(org.id, emails[index] as string, input)),
    );
    this.emit(
      data.map((json) => ({ type: 'organizationInvitation.created', data: json })),
      request,
    );
    return listJson(data, data.length);
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
    if (!this.store.isPending(invitation)) throw clerkErrors.invitationNotPending();
    const events: WebhookEvent[] = [];
    let user = userId ? this.store.requireUser(userId) : this.store.findUserByEmail(invitation.emailAddress);
    if (user && this.store.getMembership(invitation.organizationId, user.id))
      throw clerkErrors.alreadyMember(user.emailAddress);
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

  // ---- roles (the Dashboard's writes; the emulator offers them through the control API) ----

  createOrganizationRole(
    input: { key: string; name: string; description?: string | null; permissions: readonly string[] },
    request: HttpRequestInfo = CONTROL_REQUEST,
  ): Json {
    const known = new Set(input.permissions.filter((key) => this.store.roles.permission(key)));
    const role = this.store.roles.addRole(input, this.store.now());
    const events: WebhookEvent[] = [];
    for (const key of role.permissions) {
      const permission = this.store.roles.permission(key);
      if (permission && !known.has(key))
        events.push({ type: 'permission.created', data: permissionJson(permission) });
    }
    const json = roleJson(this.store, role);
    events.push({ type: 'role.created', data: json });
    this.emit(events, request);
    return json;
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
