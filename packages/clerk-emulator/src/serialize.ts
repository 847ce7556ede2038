/** Store records → Clerk's JSON shapes (Backend API responses and webhook `data`), timestamps in ms. */
import { DEFAULT_ROLE_SET_KEY, type PermissionRecord, type RoleRecord } from './roles.js';
import type { Store, StoredInvitation, StoredMembership, StoredOrganization, StoredUser } from './store.js';

export type Json = Record<string, unknown>;

/** A role's display name: the instance's name for it, else one derived from the key (store setup only). */
export function roleName(store: Store, role: string): string {
  const defined = store.roles.get(role)?.name;
  if (defined) return defined;
  const key = role.startsWith('org:') ? role.slice(4) : role;
  const words = key.replace(/[_:-]+/g, ' ').trim();
  return words ? words[0]?.toUpperCase() + words.slice(1) : role;
}

export function permissionJson(permission: PermissionRecord): Json {
  return {
    object: 'permission',
    id: permission.id,
    name: permission.name,
    key: permission.key,
    description: permission.description,
    type: permission.type,
    created_at: permission.createdAt,
    updated_at: permission.updatedAt,
  };
}

/** Clerk's `Role`: its permissions as Permission objects, in the role's order. */
export function roleJson(store: Store, role: RoleRecord): Json {
  return {
    object: 'role',
    id: role.id,
    name: role.name,
    key: role.key,
    description: role.description,
    is_creator_eligible: store.roles.isCreatorEligible(role),
    permissions: role.permissions.flatMap((key) => {
      const permission = store.roles.permission(key);
      return permission ? [permissionJson(permission)] : [];
    }),
    created_at: role.createdAt,
    updated_at: role.updatedAt,
  };
}

export function organizationJson(store: Store, org: StoredOrganization): Json {
  return {
    object: 'organization',
    id: org.id,
    name: org.name,
    slug: org.slug,
    image_url: org.imageUrl,
    has_image: org.hasImage,
    members_count: store.membersCount(org.id),
    missing_member_with_elevated_permissions: false,
    pending_invitations_count: store.pendingInvitationsCount(org.id),
    max_allowed_memberships: org.maxAllowedMemberships,
    admin_delete_enabled: org.adminDeleteEnabled,
    public_metadata: org.publicMetadata,
    private_metadata: org.privateMetadata,
    created_by: org.createdBy ?? '',
    created_at: org.createdAt,
    updated_at: org.updatedAt,
    role_set_key: DEFAULT_ROLE_SET_KEY,
  };
}

export function publicUserDataJson(user: StoredUser | undefined, userId: string): Json {
  return {
    user_id: userId,
    first_name: user?.firstName ?? null,
    last_name: user?.lastName ?? null,
    profile_image_url: user?.imageUrl ?? '',
    image_url: user?.imageUrl ?? '',
    has_image: user?.hasImage ?? false,
    identifier: user?.emailAddress ?? '',
  };
}

/** `organizationJsonCache` lets list responses serialize the shared organization once. */
export function membershipJson(store: Store, membership: StoredMembership, organization?: Json): Json {
  const org = organization ?? orgJsonFor(store, membership.organizationId);
  return {
    object: 'organization_membership',
    id: membership.id,
    role: membership.role,
    role_name: roleName(store, membership.role),
    permissions: store.roles.permissionsOf(membership.role),
    public_metadata: membership.publicMetadata,
    private_metadata: membership.privateMetadata,
    organization: org,
    public_user_data: publicUserDataJson(store.getUser(membership.userId), membership.userId),
    created_at: membership.createdAt,
    updated_at: membership.updatedAt,
  };
}

function orgJsonFor(store: Store, organizationId: string): Json {
  const org = store.getOrganization(organizationId);
  if (!org) throw new Error(`organization ${organizationId} vanished`);
  return organizationJson(store, org);
}

function publicInviterDataJson(user: StoredUser | undefined): Json | null {
  if (!user) return null;
  return {
    user_id: user.id,
    first_name: user.firstName,
    last_name: user.lastName,
    image_url: user.imageUrl,
    has_image: user.hasImage,
    identifier: user.emailAddress,
  };
}

export function invitationUrl(invitation: StoredInvitation): string {
  return `https://accounts.emulator.clerk.test/accept-invitation?__clerk_ticket=${invitation.id}`;
}

export function invitationJson(store: Store, invitation: StoredInvitation): Json {
  return {
    object: 'organization_invitation',
    id: invitation.id,
    email_address: invitation.emailAddress,
    role: invitation.role,
    role_name: roleName(store, invitation.role),
    organization_id: invitation.organizationId,
    inviter_id: invitation.inviterUserId,
    public_inviter_data: publicInviterDataJson(
      invitation.inviterUserId ? store.getUser(invitation.inviterUserId) : undefined,
    ),
    status: store.invitationStatus(invitation),
    public_metadata: invitation.publicMetadata,
    private_metadata: invitation.privateMetadata,
    url: invitationUrl(invitation),
    expires_at: invitation.expiresAt,
    created_at: invitation.createdAt,
    updated_at: invitation.updatedAt,
  };
}

/** `organizationInvitation.accepted` data: the invitation plus `user_id` and `data.public_organization_data`. */
export function acceptedInvitationJson(store: Store, invitation: StoredInvitation, userId: string): Json {
  const org = store.getOrganization(invitation.organizationId);
  return {
    ...invitationJson(store, invitation),
    user_id: userId,
    data: {
      public_organization_data: org
        ? { id: org.id, name: org.name, slug: org.slug, image_url: org.imageUrl, has_image: org.hasImage }
        : null,
    },
  };
}

export function userJson(user: StoredUser): Json {
  return {
    id: user.id,
    object: 'user',
    external_id: user.externalId,
    primary_email_address_id: user.emailAddressId,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    locale: null,
    profile_image_url: user.imageUrl,
    image_url: user.imageUrl,
    has_image: user.hasImage,
    public_metadata: user.publicMetadata,
    private_metadata: user.privateMetadata,
    unsafe_metadata: user.unsafeMetadata,
    email_addresses: [
      {
        id: user.emailAddressId,
        object: 'email_address',
        email_address: user.emailAddress,
        reserved: false,
        verification: {
          object: 'verification_admin',
          status: 'verified',
          strategy: 'admin',
          attempts: null,
          expire_at: null,
        },
        linked_to: [],
        matches_sso_connection: false,
        created_at: user.createdAt,
        updated_at: user.createdAt,
      },
    ],
    phone_numbers: [],
    web3_wallets: [],
    passkeys: [],
    password_enabled: false,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    mfa_enabled_at: null,
    mfa_disabled_at: null,
    password_last_updated_at: null,
    external_accounts: [],
    saml_accounts: [],
    enterprise_accounts: [],
    last_sign_in_at: null,
    banned: false,
    locked: false,
    deprovisioned: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: null,
    updated_at: user.updatedAt,
    created_at: user.createdAt,
    delete_self_enabled: true,
    create_organization_enabled: true,
    create_organizations_limit: null,
    last_active_at: null,
    legal_accepted_at: null,
    bypass_client_trust: false,
  };
}

export function deletedObjectJson(object: 'user' | 'organization', id: string, slug?: string): Json {
  return slug === undefined ? { object, id, deleted: true } : { object, id, slug, deleted: true };
}

export function listJson(data: unknown[], totalCount: number): { data: unknown[]; total_count: number } {
  return { data, total_count: totalCount };
}
