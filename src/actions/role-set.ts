/**
 * The instance's organization roles and what each grants, read from Clerk once per TTL (one call, shared by every
 * action): roles in a mutation are checked against it before any write, and a role change's guard needs to know
 * whether the new role can still manage members. The role set changes rarely (in Clerk's dashboard); a change not
 * seen yet is caught by Clerk, whose refusal maps to the same code.
 */
import { LRUCache } from 'lru-cache';
import type { RoleDefinition, TeamWriter, WriteCall } from '../team/writer.js';

export interface RoleSet {
  /** role key → its permissions. */
  roles(call: WriteCall): Promise<ReadonlyMap<string, readonly string[]>>;
}

export function createRoleSet(writer: Pick<TeamWriter, 'readRoles'>, ttlMs: number): RoleSet {
  // One entry; lru-cache's fetch makes concurrent callers share one read, and a failed read is not kept.
  const cache = new LRUCache<'roles', ReadonlyMap<string, readonly string[]>, WriteCall>({
    max: 1,
    ttl: ttlMs,
    fetchMethod: async (_key, _stale, { context }) => {
      const roles: RoleDefinition[] = await writer.readRoles(context);
      return new Map(roles.map((role) => [role.key, role.permissions]));
    },
  });
  return {
    async roles(call) {
      const roles = await cache.fetch('roles', { context: call });
      if (!roles) throw new Error('role set read returned nothing');
      return roles;
    },
  };
}
