/**
 * Every Redis key and channel the replicas share, in one place (the README's "Running several replicas" lists
 * them). All start with `REDIS_KEY_PREFIX`, so several deployments can share one Redis.
 */
import type { CacheKind } from '../team/cache.js';

export interface SharedKeys {
  /** The second-level copy of one cache entry (string, compact JSON, expires with the cache TTL). */
  copy(kind: CacheKind, id: string): string;
  /** Matches every copy (SCAN). */
  readonly copyPattern: string;
  /** The cluster-wide single-flight lease of one cache entry (string: the holder's token, short expiry). */
  lease(kind: CacheKind, id: string): string;
  /** One processed webhook delivery (`svix-id`), for the dedupe window. */
  webhook(messageId: string): string;
  /** One idempotency key of one user (hash: state, fingerprint, lease, answer; see idempotency-store.ts). */
  idempotency(scope: string): string;
  /** Prefix of the write limiters' counters (rate-limiter-flexible appends `:<key>`). */
  writeLimit(name: string): string;
  /** Revocation records (hash: "user organization" → epoch ms), read by a replica when it (re)connects. */
  readonly revocations: string;
  /** The bus: effects of webhooks, copies written, heartbeats. */
  readonly bus: string;
  /** One organization's team-action lease (string: the holder's token, expires with the action's deadline). */
  actionLease(organizationId: string): string;
}

export function sharedKeys(prefix: string): SharedKeys {
  return {
    copy: (kind, id) => `${prefix}copy:${kind}:${id}`,
    copyPattern: `${prefix}copy:*`,
    lease: (kind, id) => `${prefix}lease:${kind}:${id}`,
    webhook: (messageId) => `${prefix}webhook:${messageId}`,
    idempotency: (scope) => `${prefix}idempotency:${scope}`,
    writeLimit: (name) => `${prefix}writes:${name}`,
    revocations: `${prefix}revocations`,
    bus: `${prefix}bus`,
    actionLease: (organizationId) => `${prefix}action-lease:${organizationId}`,
  };
}
