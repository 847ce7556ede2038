/**
 * Membership permissions: what a member may do in an organization, as Clerk lists them on each membership. System
 * permissions (`org:sys_*`) are never in Clerk's session tokens, so team actions are authorized from these.
 *
 * Every member of one role holds the same list: `internPermissions` hands out one frozen array per distinct list,
 * so a 30,000-member roster holds a handful of arrays, not 30,000.
 */
import { LRUCache } from 'lru-cache';

/** Manage members and invitations: invite, revoke, change roles, remove. */
export const MANAGE_MEMBERSHIPS = 'org:sys_memberships:manage';

const NONE: readonly string[] = Object.freeze([]);

/**
 * Distinct lists seen; an instance has a few roles. Bounded all the same (each list is short): a list evicted
 * from here stays valid where it is held, a later equal one just gets a new array.
 */
const interned = new LRUCache<string, readonly string[]>({ max: 1_000 });

/** The one shared, frozen array equal to `permissions` (strings only; anything else is dropped). */
export function internPermissions(permissions: readonly unknown[]): readonly string[] {
  const list = permissions.filter((permission): permission is string => typeof permission === 'string');
  if (list.length === 0) return NONE;
  const key = list.join('\n');
  let shared = interned.get(key);
  if (!shared) {
    shared = Object.freeze(list);
    interned.set(key, shared);
  }
  return shared;
}

export const canManageMembers = (permissions: readonly string[]): boolean =>
  permissions.includes(MANAGE_MEMBERSHIPS);
