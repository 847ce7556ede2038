/**
 * The instance's organization roles and permissions: the one place that says which role keys exist and which
 * permissions each holds. Membership JSON (`permissions`), the writes' role checks (an unknown role → 404, the
 * last holder of org:sys_memberships:manage) and `GET /v1/organization_roles` all read it.
 *
 * Seeded as Clerk's Primary Role Set: org:admin with every system permission, org:member with "Read members"
 * only. The two org:sys_billing:* keys exist only with Clerk Billing enabled, which the emulator does not model.
 */
import { createHash } from 'node:crypto';
import { base62FromBytes, ID_BODY_LENGTH, type IdPrefix } from './ids.js';

/** The system permission that lets a member invite, change roles and remove members. */
export const MEMBERSHIPS_MANAGE = 'org:sys_memberships:manage';

/** Clerk's only role set unless the Enhanced Organizations add-on creates more; every organization uses it. */
export const DEFAULT_ROLE_SET_KEY = 'role_set:default';

/**
 * When the instance's roles and system permissions were created: fixed, so their JSON is the same on every run
 * and older than any record the demo seed makes.
 */
export const INSTANCE_CREATED_AT_MS = Date.UTC(2025, 0, 6, 9, 0, 0);

export interface PermissionRecord {
  id: string;
  key: string;
  name: string;
  description: string;
  /** 'system' for Clerk's org:sys_* permissions, 'user' for the instance's own (custom) ones. */
  type: 'system' | 'user';
  createdAt: number;
  updatedAt: number;
}

export interface RoleRecord {
  id: string;
  key: string;
  name: string;
  description: string | null;
  /** Permission keys, in the order the role lists them. */
  permissions: string[];
  createdAt: number;
  updatedAt: number;
}

/** The six system permissions (Clerk's `OrganizationSystemPermissionKey`), with the names its dashboard shows. */
const SYSTEM_PERMISSIONS: readonly (readonly [key: string, name: string, description: string])[] = [
  ['org:sys_profile:manage', 'Manage organization', 'Permission to manage an organization.'],
  ['org:sys_profile:delete', 'Delete organization', 'Permission to delete an organization.'],
  ['org:sys_memberships:read', 'Read members', 'Permission to read the members of an organization.'],
  [MEMBERSHIPS_MANAGE, 'Manage members', 'Permission to manage the members of an organization.'],
  ['org:sys_domains:read', 'Read domains', 'Permission to read the domains of an organization.'],
  ['org:sys_domains:manage', 'Manage domains', 'Permission to manage the domains of an organization.'],
];

const DEFAULT_ROLES: readonly {
  key: string;
  name: string;
  description: string;
  permissions: readonly string[];
}[] = [
  {
    key: 'org:admin',
    name: 'Admin',
    description: 'Offers full access to organization resources.',
    permissions: SYSTEM_PERMISSIONS.map(([key]) => key),
  },
  {
    key: 'org:member',
    name: 'Member',
    description: 'Offers limited access to organization resources.',
    permissions: ['org:sys_memberships:read'],
  },
];

/**
 * What a role needs to be an organization's Creator role (Clerk's docs: "Manage members", "Read members" and
 * "Delete organization").
 */
const CREATOR_PERMISSIONS = [MEMBERSHIPS_MANAGE, 'org:sys_memberships:read', 'org:sys_profile:delete'];

/** What a role key set up directly in the store, but not defined by the instance, is treated as holding. */
const UNDEFINED_ROLE_PERMISSIONS = ['org:sys_memberships:read'];

const ROLE_KEY_PATTERN = /^org:[a-z0-9_]+$/;
const PERMISSION_KEY_PATTERN = /^org:[a-z0-9_]+:[a-z0-9_]+$/;

/** A stable Clerk-looking ID derived from a key, so the instance's roles have the same IDs in every emulator. */
function stableId(prefix: IdPrefix, key: string): string {
  const digest = createHash('sha256').update(`${prefix}:${key}`).digest();
  return `${prefix}_2${base62FromBytes(digest, ID_BODY_LENGTH - 1)}`;
}

export class RoleRegistry {
  /** In creation order (oldest first). */
  private readonly roles: RoleRecord[] = [];
  private readonly byKey = new Map<string, RoleRecord>();
  private readonly permissionsByKey = new Map<string, PermissionRecord>();

  constructor() {
    let at = INSTANCE_CREATED_AT_MS;
    for (const [key, name, description] of SYSTEM_PERMISSIONS) {
      this.addPermission({ key, name, description, type: 'system', at: at++ });
    }
    for (const role of DEFAULT_ROLES) this.insertRole({ ...role, at: at++ });
  }

  /** Oldest first. Do not mutate. */
  list(): readonly RoleRecord[] {
    return this.roles;
  }

  byId(id: string): RoleRecord | undefined {
    return this.roles.find((role) => role.id === id);
  }

  get(key: string): RoleRecord | undefined {
    return this.byKey.get(key);
  }

  /** Whether the instance defines this role key (writes naming another role answer 404 resource_not_found). */
  isKnown(key: string): boolean {
    return this.byKey.has(key);
  }

  permission(key: string): PermissionRecord | undefined {
    return this.permissionsByKey.get(key);
  }

  /** A role's permission keys; a role key the instance does not define (store setup only) reads members. */
  permissionsOf(key: string): string[] {
    return [...(this.byKey.get(key)?.permissions ?? UNDEFINED_ROLE_PERMISSIONS)];
  }

  canManageMemberships(key: string): boolean {
    return this.permissionsOf(key).includes(MEMBERSHIPS_MANAGE);
  }

  isCreatorEligible(role: RoleRecord): boolean {
    return CREATOR_PERMISSIONS.every((key) => role.permissions.includes(key));
  }

  /**
   * Defines a custom role, as the Dashboard does. Permission keys that the instance does not know yet become
   * custom permissions (`org:<feature>:<action>`); org:sys_* keys must be system permissions.
   */
  addRole(
    input: { key: string; name: string; description?: string | null; permissions: readonly string[] },
    at: number,
  ): RoleRecord {
    if (!ROLE_KEY_PATTERN.test(input.key)) {
      throw new Error(`role key must match org:<lowercase alphanumerics and underscores>: ${input.key}`);
    }
    if (this.byKey.has(input.key)) throw new Error(`role ${input.key} already exists`);
    if (!input.name.trim()) throw new Error('role name must not be empty');
    for (const key of input.permissions) {
      if (this.permissionsByKey.has(key)) continue;
      if (key.startsWith('org:sys_') || !PERMISSION_KEY_PATTERN.test(key)) {
        throw new Error(`unknown system permission or malformed permission key: ${key}`);
      }
    }
    for (const key of input.permissions) {
      if (!this.permissionsByKey.has(key)) {
        this.addPermission({ key, name: key, description: '', type: 'user', at });
      }
    }
    return this.insertRole({
      key: input.key,
      name: input.name.trim(),
      description: input.description ?? null,
      permissions: [...new Set(input.permissions)],
      at,
    });
  }

  private addPermission(input: {
    key: string;
    name: string;
    description: string;
    type: PermissionRecord['type'];
    at: number;
  }): void {
    this.permissionsByKey.set(input.key, {
      id: stableId('perm', input.key),
      key: input.key,
      name: input.name,
      description: input.description,
      type: input.type,
      createdAt: input.at,
      updatedAt: input.at,
    });
  }

  private insertRole(input: {
    key: string;
    name: string;
    description: string | null;
    permissions: readonly string[];
    at: number;
  }): RoleRecord {
    const role: RoleRecord = {
      id: stableId('role', input.key),
      key: input.key,
      name: input.name,
      description: input.description,
      permissions: [...input.permissions],
      createdAt: input.at,
      updatedAt: input.at,
    };
    this.roles.push(role);
    this.byKey.set(role.key, role);
    return role;
  }
}
