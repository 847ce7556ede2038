/**
 * In-memory data: users, organizations, memberships and invitations. Implements the contract's `EmulatorStore`
 * (direct setup access: no HTTP, no latency, no webhooks) plus the operations the HTTP handlers need.
 *
 * Per organization, memberships and invitations are kept in arrays sorted by `createdAt` ascending (timestamps
 * come from a strictly increasing clock, so appends keep them sorted), and lists are sliced from them.
 */
import type {
  EmulatorStore,
  InvitationRecord,
  MembershipRecord,
  OrganizationRecord,
  UserRecord,
} from './contract.js';
import { ClerkApiError, clerkErrors } from './errors.js';
import { IdGenerator, pick, type Random, seededRandom } from './ids.js';
import { FIRST_NAMES, LAST_NAMES } from './names.js';
import { RoleRegistry } from './roles.js';

export type Metadata = Record<string, unknown>;

export interface StoredUser extends UserRecord {
  emailAddressId: string;
  username: string | null;
  externalId: string | null;
  publicMetadata: Metadata;
  privateMetadata: Metadata;
  unsafeMetadata: Metadata;
}

export interface StoredOrganization extends OrganizationRecord {
  adminDeleteEnabled: boolean;
  publicMetadata: Metadata;
  privateMetadata: Metadata;
}

export interface StoredMembership extends MembershipRecord {
  publicMetadata: Metadata;
  privateMetadata: Metadata;
}

export interface StoredInvitation extends InvitationRecord {
  publicMetadata: Metadata;
  privateMetadata: Metadata;
}

interface OrganizationState {
  org: StoredOrganization;
  /** Sorted by createdAt ascending. */
  members: StoredMembership[];
  byUser: Map<string, StoredMembership>;
  /** Sorted by createdAt ascending. */
  invitations: StoredInvitation[];
}

export const DAY_MS = 24 * 60 * 60 * 1000;
export const INVITATION_LIFETIME_MS = 30 * DAY_MS;

const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export function isValidSlug(slug: string): boolean {
  return slug.length > 0 && slug.length <= 256 && SLUG_PATTERN.test(slug);
}

export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
  return slug || 'organization';
}

function base64url(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

/** Clerk's default avatar URL: img.clerk.com with a base64url JSON descriptor. */
export function defaultImageUrl(id: string, initials: string): string {
  return `https://img.clerk.com/${base64url(JSON.stringify({ type: 'default', rid: id, initials }))}`;
}

/** What an uploaded image looks like on img.clerk.com. */
export function uploadedImageUrl(imageId: string): string {
  return `https://img.clerk.com/${base64url(JSON.stringify({ type: 'proxy', src: `https://images.clerk.dev/uploaded/img_${imageId}` }))}`;
}

function initialsOf(
  first: string | null | undefined,
  last: string | null | undefined,
  email: string,
): string {
  const initials = `${first?.[0] ?? ''}${last?.[0] ?? ''}`.toUpperCase();
  return initials || (email[0] ?? 'U').toUpperCase();
}

function insertSorted<T extends { createdAt: number }>(list: T[], item: T): void {
  const last = list[list.length - 1];
  if (!last || last.createdAt <= item.createdAt) {
    list.push(item);
    return;
  }
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as T).createdAt <= item.createdAt) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

function removeItem<T>(list: T[], item: T): void {
  const index = list.lastIndexOf(item);
  if (index >= 0) list.splice(index, 1);
}

export interface StoreOptions {
  /** Seed for deterministic IDs; without one IDs are random. */
  seed?: number;
}

export class Store implements EmulatorStore {
  readonly ids: IdGenerator;
  /** The instance's organization roles and permissions (the one source of truth for both). */
  readonly roles = new RoleRegistry();
  private readonly nameRandom: Random;
  private readonly users = new Map<string, StoredUser>();
  private readonly emails = new Map<string, string>();
  private readonly orgs = new Map<string, OrganizationState>();
  private readonly slugs = new Map<string, string>();
  private readonly invitationsById = new Map<string, StoredInvitation>();
  private readonly userOrgs = new Map<string, Set<string>>();
  private lastTimestamp = 0;
  private virtualClock: { now: number; step: () => number } | undefined;
  /** How far `POST /__emulator/clock` has moved the emulator's clock ahead of the real one. */
  private clockOffsetMs = 0;

  constructor(options: StoreOptions = {}) {
    this.ids = new IdGenerator(options.seed);
    this.nameRandom = seededRandom(options.seed ?? 0x5eed);
  }

  // ---- clock ----

  /** Strictly increasing epoch milliseconds, so that ordering by created_at is total. */
  now(): number {
    let candidate: number;
    if (this.virtualClock) {
      this.virtualClock.now += Math.max(1, Math.round(this.virtualClock.step()));
      candidate = this.virtualClock.now;
    } else {
      candidate = this.clock();
    }
    this.lastTimestamp = Math.max(candidate, this.lastTimestamp + 1);
    return this.lastTimestamp;
  }

  /**
   * The emulator's present (epoch ms): the real clock plus what `advanceClock` added (the virtual clock while a
   * seed runs). Timestamps of new records
   * and invitation expiry read it; session tokens and webhook envelopes keep the real clock, because the
   * server that verifies them does.
   */
  clock(): number {
    if (this.virtualClock) return this.virtualClock.now;
    // Never before the last stamped record (`now()` runs ahead of the real clock when records share a millisecond).
    return Math.max(Date.now() + this.clockOffsetMs, this.lastTimestamp);
  }

  /** Moves the emulator's clock forward by `ms` (never back: timestamps stay increasing). Returns the new time. */
  advanceClock(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('advance_ms must be a non-negative number');
    this.clockOffsetMs += ms;
    return this.clock();
  }

  clockOffset(): number {
    return this.clockOffsetMs;
  }

  /** Timestamps start at `startMs` and advance by `step()` ms per record (for deterministic seeds). */
  useVirtualClock(startMs: number, step: () => number): void {
    this.virtualClock = { now: startMs, step };
  }

  useRealClock(): void {
    this.virtualClock = undefined;
  }

  // ---- users ----

  createUser(input: {
    firstName?: string | null;
    lastName?: string | null;
    emailAddress: string;
    imageUrl?: string;
    username?: string | null;
  }): StoredUser {
    const email = input.emailAddress.trim();
    if (!email.includes('@')) throw clerkErrors.paramFormat('email_address', 'a valid email address');
    const key = email.toLowerCase();
    if (this.emails.has(key)) throw clerkErrors.identifierExists('email_address');
    const id = this.ids.next('user');
    const at = this.now();
    const firstName = input.firstName ?? null;
    const lastName = input.lastName ?? null;
    const user: StoredUser = {
      id,
      firstName,
      lastName,
      emailAddress: email,
      imageUrl: input.imageUrl ?? defaultImageUrl(id, initialsOf(firstName, lastName, email)),
      hasImage: input.imageUrl !== undefined,
      createdAt: at,
      updatedAt: at,
      emailAddressId: this.ids.next('idn'),
      username: input.username ?? null,
      externalId: null,
      publicMetadata: {},
      privateMetadata: {},
      unsafeMetadata: {},
    };
    this.users.set(id, user);
    this.emails.set(key, id);
    return user;
  }

  getUser(id: string): StoredUser | undefined {
    return this.users.get(id);
  }

  requireUser(id: string): StoredUser {
    const user = this.users.get(id);
    if (!user) throw clerkErrors.notFound();
    return user;
  }

  findUserByEmail(email: string): StoredUser | undefined {
    const id = this.emails.get(email.trim().toLowerCase());
    return id === undefined ? undefined : this.users.get(id);
  }

  listUsers(): StoredUser[] {
    return [...this.users.values()];
  }

  updateUser(
    id: string,
    patch: {
      firstName?: string | null;
      lastName?: string | null;
      username?: string | null;
      externalId?: string | null;
    },
  ): StoredUser {
    const user = this.requireUser(id);
    if (patch.firstName !== undefined) user.firstName = patch.firstName;
    if (patch.lastName !== undefined) user.lastName = patch.lastName;
    if (patch.username !== undefined) user.username = patch.username;
    if (patch.externalId !== undefined) user.externalId = patch.externalId;
    if (!user.hasImage) {
      user.imageUrl = defaultImageUrl(user.id, initialsOf(user.firstName, user.lastName, user.emailAddress));
    }
    user.updatedAt = this.now();
    return user;
  }

  /** Deletes a user and all their memberships. Remove memberships first if their snapshots are needed. */
  deleteUser(id: string): StoredUser {
    const user = this.requireUser(id);
    for (const membership of this.membershipsOfUser(id)) this.removeMembership(membership.organizationId, id);
    this.users.delete(id);
    this.emails.delete(user.emailAddress.toLowerCase());
    this.userOrgs.delete(id);
    return user;
  }

  // ---- organizations ----

  /** Records `createdBy` only; the caller adds that user's membership if wanted (the API does). */
  createOrganization(input: {
    name: string;
    slug?: string | null;
    createdBy?: string | null;
    maxAllowedMemberships?: number | null;
    publicMetadata?: Metadata | null;
    privateMetadata?: Metadata | null;
  }): StoredOrganization {
    const name = input.name.trim();
    if (!name) throw clerkErrors.paramValue('name', 'name must not be empty.');
    let slug: string;
    if (input.slug !== undefined && input.slug !== null) {
      slug = input.slug;
      if (!isValidSlug(slug)) {
        throw clerkErrors.paramFormat('slug', 'lowercase alphanumeric characters and dashes');
      }
      if (this.slugs.has(slug)) throw clerkErrors.identifierExists('slug');
    } else {
      const base = slugify(name);
      slug = base;
      for (let n = 2; this.slugs.has(slug); n++) slug = `${base}-${n}`;
    }
    if (input.createdBy) this.requireUser(input.createdBy);
    const id = this.ids.next('org');
    const at = this.now();
    const org: StoredOrganization = {
      id,
      name,
      slug,
      imageUrl: defaultImageUrl(id, (name[0] ?? 'O').toUpperCase()),
      hasImage: false,
      maxAllowedMemberships: input.maxAllowedMemberships ?? 0,
      createdBy: input.createdBy ?? null,
      createdAt: at,
      updatedAt: at,
      adminDeleteEnabled: true,
      publicMetadata: input.publicMetadata ?? {},
      privateMetadata: input.privateMetadata ?? {},
    };
    this.orgs.set(id, { org, members: [], byUser: new Map(), invitations: [] });
    this.slugs.set(slug, id);
    return org;
  }

  getOrganization(idOrSlug: string): StoredOrganization | undefined {
    const state = this.orgs.get(idOrSlug) ?? this.orgs.get(this.slugs.get(idOrSlug) ?? '');
    return state?.org;
  }

  requireOrganization(idOrSlug: string): StoredOrganization {
    const org = this.getOrganization(idOrSlug);
    if (!org) throw clerkErrors.notFound();
    return org;
  }

  private state(organizationId: string): OrganizationState {
    const state = this.orgs.get(organizationId);
    if (!state) throw clerkErrors.notFound();
    return state;
  }

  /** Oldest first. */
  listOrganizations(): StoredOrganization[] {
    const list: StoredOrganization[] = [];
    for (const state of this.orgs.values()) list.push(state.org);
    return list;
  }

  updateOrganization(
    id: string,
    patch: {
      name?: string;
      slug?: string;
      maxAllowedMemberships?: number;
      adminDeleteEnabled?: boolean;
    },
  ): StoredOrganization {
    const org = this.requireOrganization(id);
    if (patch.slug !== undefined && patch.slug !== org.slug) {
      if (!isValidSlug(patch.slug)) {
        throw clerkErrors.paramFormat('slug', 'lowercase alphanumeric characters and dashes');
      }
      if (this.slugs.has(patch.slug)) throw clerkErrors.identifierExists('slug');
      this.slugs.delete(org.slug);
      this.slugs.set(patch.slug, org.id);
      org.slug = patch.slug;
    }
    if (patch.name !== undefined) {
      if (!patch.name.trim()) throw clerkErrors.paramValue('name', 'name must not be empty.');
      org.name = patch.name.trim();
    }
    if (patch.maxAllowedMemberships !== undefined) org.maxAllowedMemberships = patch.maxAllowedMemberships;
    if (patch.adminDeleteEnabled !== undefined) org.adminDeleteEnabled = patch.adminDeleteEnabled;
    org.updatedAt = this.now();
    return org;
  }

  /** Deletes an organization with its memberships and invitations. */
  deleteOrganization(id: string): StoredOrganization {
    const org = this.requireOrganization(id);
    const state = this.state(org.id);
    for (const membership of state.members) this.userOrgs.get(membership.userId)?.delete(org.id);
    for (const invitation of state.invitations) this.invitationsById.delete(invitation.id);
    this.orgs.delete(org.id);
    this.slugs.delete(org.slug);
    return org;
  }

  membersCount(organizationId: string): number {
    return this.orgs.get(organizationId)?.members.length ?? 0;
  }

  /** Pending invitations that have not expired. */
  pendingInvitationsCount(organizationId: string): number {
    let count = 0;
    for (const invitation of this.orgs.get(organizationId)?.invitations ?? []) {
      if (this.isPending(invitation)) count++;
    }
    return count;
  }

  /**
   * Seats taken: members plus pending invitations (what Clerk counts against `max_allowed_memberships`); an
   * expired invitation no longer holds a seat.
   */
  seatsUsed(organizationId: string): number {
    return this.membersCount(organizationId) + this.pendingInvitationsCount(organizationId);
  }

  // ---- memberships ----

  addMembership(organizationId: string, userId: string, role = 'org:member'): StoredMembership {
    const state = this.state(organizationId);
    this.requireUser(userId);
    if (state.byUser.has(userId)) throw clerkErrors.alreadyMember();
    const max = state.org.maxAllowedMemberships;
    if (max > 0 && state.members.length >= max) throw clerkErrors.quotaExceeded(max);
    const at = this.now();
    const membership: StoredMembership = {
      id: this.ids.next('orgmem'),
      organizationId,
      userId,
      role,
      createdAt: at,
      updatedAt: at,
      publicMetadata: {},
      privateMetadata: {},
    };
    insertSorted(state.members, membership);
    state.byUser.set(userId, membership);
    let orgIds = this.userOrgs.get(userId);
    if (!orgIds) {
      orgIds = new Set();
      this.userOrgs.set(userId, orgIds);
    }
    orgIds.add(organizationId);
    return membership;
  }

  /** The internal array, oldest first. Do not mutate. */
  membershipsAscending(organizationId: string): readonly StoredMembership[] {
    return this.orgs.get(organizationId)?.members ?? [];
  }

  listMemberships(organizationId: string): StoredMembership[] {
    return [...this.membershipsAscending(organizationId)];
  }

  getMembership(organizationId: string, userId: string): StoredMembership | undefined {
    return this.orgs.get(organizationId)?.byUser.get(userId);
  }

  requireMembership(organizationId: string, userId: string): StoredMembership {
    const membership = this.getMembership(organizationId, userId);
    if (!membership) throw clerkErrors.notFound();
    return membership;
  }

  membershipsOfUser(userId: string): StoredMembership[] {
    const result: StoredMembership[] = [];
    for (const orgId of this.userOrgs.get(userId) ?? []) {
      const membership = this.orgs.get(orgId)?.byUser.get(userId);
      if (membership) result.push(membership);
    }
    return result;
  }

  updateMembershipRole(organizationId: string, userId: string, role: string): StoredMembership {
    const membership = this.requireMembership(organizationId, userId);
    membership.role = role;
    membership.updatedAt = this.now();
    return membership;
  }

  removeMembership(organizationId: string, userId: string): StoredMembership {
    const state = this.state(organizationId);
    const membership = state.byUser.get(userId);
    if (!membership) throw clerkErrors.notFound();
    removeItem(state.members, membership);
    state.byUser.delete(userId);
    this.userOrgs.get(userId)?.delete(organizationId);
    return membership;
  }

  populate(organizationId: string, count: number, role = 'org:member'): StoredMembership[] {
    const org = this.state(organizationId).org;
    const domain = `${org.slug}.test`;
    const created: StoredMembership[] = [];
    for (let i = 0; i < count; i++) {
      const firstName = pick(this.nameRandom, FIRST_NAMES);
      const lastName = pick(this.nameRandom, LAST_NAMES);
      const local = `${firstName}.${lastName}`.toLowerCase();
      let email = `${local}@${domain}`;
      for (let n = 2; this.emails.has(email); n++) email = `${local}${n}@${domain}`;
      const user = this.createUser({ firstName, lastName, emailAddress: email });
      created.push(this.addMembership(organizationId, user.id, role));
    }
    return created;
  }

  // ---- invitations ----

  addInvitation(
    organizationId: string,
    input: {
      emailAddress: string;
      role?: string;
      inviterUserId?: string | null;
      expiresInDays?: number | null;
      publicMetadata?: Metadata | null;
      privateMetadata?: Metadata | null;
    },
  ): StoredInvitation {
    const state = this.state(organizationId);
    const email = input.emailAddress.trim();
    if (!email.includes('@')) throw clerkErrors.paramFormat('email_address', 'a valid email address');
    if (input.inviterUserId) this.requireUser(input.inviterUserId);
    const at = this.now();
    const invitation: StoredInvitation = {
      id: this.ids.next('orginv'),
      organizationId,
      emailAddress: email,
      role: input.role ?? 'org:member',
      inviterUserId: input.inviterUserId ?? null,
      status: 'pending',
      createdAt: at,
      updatedAt: at,
      expiresAt: at + (input.expiresInDays ? input.expiresInDays * DAY_MS : INVITATION_LIFETIME_MS),
      publicMetadata: input.publicMetadata ?? {},
      privateMetadata: input.privateMetadata ?? {},
    };
    insertSorted(state.invitations, invitation);
    this.invitationsById.set(invitation.id, invitation);
    return invitation;
  }

  /** The internal array, oldest first. Do not mutate. */
  invitationsAscending(organizationId: string): readonly StoredInvitation[] {
    return this.orgs.get(organizationId)?.invitations ?? [];
  }

  getInvitation(id: string): StoredInvitation | undefined {
    return this.invitationsById.get(id);
  }

  requireInvitation(organizationId: string, invitationId: string): StoredInvitation {
    const invitation = this.invitationsById.get(invitationId);
    if (!invitation || invitation.organizationId !== organizationId) throw clerkErrors.notFound();
    return invitation;
  }

  /**
   * The status Clerk reports: a pending invitation whose `expires_at` has passed (on the emulator's clock) is
   * 'expired'. Computed on every read rather than stored, so moving the clock or `expires_at` needs no sweep.
   */
  invitationStatus(invitation: StoredInvitation): StoredInvitation['status'] {
    if (invitation.status === 'pending' && invitation.expiresAt <= this.clock()) return 'expired';
    return invitation.status;
  }

  isPending(invitation: StoredInvitation): boolean {
    return this.invitationStatus(invitation) === 'pending';
  }

  /** Revokes or accepts a pending invitation; any other (revoked, accepted, expired) → organization_invitation_not_pending. */
  setInvitationStatus(invitation: StoredInvitation, status: 'accepted' | 'revoked'): StoredInvitation {
    if (!this.isPending(invitation)) throw clerkErrors.invitationNotPending();
    invitation.status = status;
    invitation.updatedAt = this.now();
    return invitation;
  }

  /**
   * Makes an invitation expire at `expiresAt` (default: now on the emulator's clock), which must not be in the
   * future. Clerk has no such call; it stands in for waiting out an invitation's lifetime.
   */
  expireInvitation(invitationId: string, expiresAt = this.clock()): StoredInvitation {
    const invitation = this.invitationsById.get(invitationId);
    if (!invitation) throw clerkErrors.notFound();
    if (!Number.isFinite(expiresAt) || expiresAt > this.clock()) {
      throw new Error('expires_at must be a time (epoch ms) that is not in the future');
    }
    if (invitation.status !== 'pending') throw clerkErrors.invitationNotPending();
    invitation.expiresAt = expiresAt;
    return invitation;
  }

  hasPendingInvitation(organizationId: string, emailAddress: string): boolean {
    const key = emailAddress.trim().toLowerCase();
    return this.invitationsAscending(organizationId).some(
      (invitation) => this.isPending(invitation) && invitation.emailAddress.toLowerCase() === key,
    );
  }
}

export function isClerkApiError(error: unknown): error is ClerkApiError {
  return error instanceof ClerkApiError;
}
