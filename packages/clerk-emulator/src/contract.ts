/**
 * The emulator's public, programmatic interface. Tests, the benchmark and the server's embedded default
 * (`npm start` without Clerk keys) depend on exactly these names; the implementation lives beside this file.
 *
 * Nothing here is Clerk's API: Clerk's wire format is what the HTTP server speaks under `/v1`.
 */

export interface WebhookEndpoint {
  url: string;
  /** Svix signing secret, `whsec_<base64>`. */
  secret: string;
}

export type RateLimitSetting = false | 'development' | 'production' | { requests: number; windowMs: number };

export interface StartEmulatorOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 'empty'. */
  seed?: 'demo' | 'empty';
  /** Default 'sk_test_emulator'. */
  secretKey?: string;
  /** Fixed latency added to every `/v1` response (not to `/__emulator`). Default 0. */
  latencyMs?: number;
  /** Uniform extra latency in [0, jitterMs). Default 0. */
  jitterMs?: number;
  /** Where writes are delivered as Svix-signed webhooks. Default none. */
  webhookEndpoints?: WebhookEndpoint[];
  /** Delays between delivery attempts of one message (same svix-id). Default [100, 500, 2000]. */
  webhookRetryDelaysMs?: number[];
  /** Token-bucket limit per secret key, like Clerk's. Default false (off). */
  rateLimit?: RateLimitSetting;
  /**
   * RSA private key (PKCS#8 PEM) that signs session tokens. Default: a new key per emulator. Pass a kept key
   * so that tokens minted before a restart still verify after it.
   */
  signingKeyPem?: string;
  /**
   * Refuse a role change or removal that would leave an organization without a member holding
   * `org:sys_memberships:manage`, as Clerk does (400 `organization_minimum_permissions_needed`). Off only for a
   * test that means to break that rule (`control.setMinimumPermissionsCheck(false)` at run time).
   * @default true
   */
  minimumPermissionsCheck?: boolean;
}

export interface MintTokenOptions {
  userId: string;
  /** Active organization, written as v1 `org_*` claims or the v2 `o` claim. */
  orgId?: string;
  /** Role key with prefix, e.g. 'org:admin'. Default: the user's role in orgId, else 'org:member'. */
  orgRole?: string;
  /** Default 2. */
  claimsVersion?: 1 | 2;
  azp?: string;
  /** Lifetime in seconds from issuedAt. Default 60. */
  expiresInS?: number;
  /** `iat` in seconds since the epoch. Default now (with `nbf` 5 s before, as Clerk does). */
  issuedAtS?: number;
  /** Default a generated `sess_…`. */
  sessionId?: string;
}

export type FaultKind = 'status500' | 'status503' | 'rateLimit' | 'hang' | 'malformed';

export interface FaultSpec {
  /** Route key, e.g. 'GET /v1/organizations/{id}/memberships', or '*' for every /v1 route. Default '*'. */
  route?: string;
  kind: FaultKind;
  /** Apply to the next N matching requests. */
  count?: number;
  /** Or to this fraction (0..1) of matching requests until cleared. */
  fraction?: number;
  /** For 'rateLimit': the Retry-After header in seconds. Default 1. */
  retryAfterSeconds?: number;
}

export interface RequestLogEntry {
  /** Epoch ms when the request arrived. */
  at: number;
  method: string;
  /** Route key with placeholders, e.g. 'GET /v1/organizations/{id}/memberships'. */
  route: string;
  /** Concrete path without the query string. */
  path: string;
  /** Parsed query string (repeated keys become arrays). */
  query: Record<string, string | string[]>;
  status: number;
}

export interface WebhookDeliveryAttempt {
  msgId: string;
  eventType: string;
  url: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** HTTP status of the endpoint's answer, or 0 for a network error. */
  status: number;
  at: number;
}

export interface WebhookDeliveryOptions {
  /** Deliver every message twice (same svix-id). */
  duplicate?: boolean;
  /** Hold each message this long before its first attempt. */
  delayMs?: number;
  /** Deliver messages of one write burst in reverse order. */
  reorder?: boolean;
}

/** Plain records the store keeps; timestamps are epoch milliseconds as in Clerk's JSON. */
export interface UserRecord {
  id: string;
  firstName: string | null;
  lastName: string | null;
  emailAddress: string;
  imageUrl: string;
  hasImage: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface OrganizationRecord {
  id: string;
  name: string;
  slug: string;
  imageUrl: string;
  hasImage: boolean;
  maxAllowedMemberships: number;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface MembershipRecord {
  id: string;
  organizationId: string;
  userId: string;
  role: string;
  createdAt: number;
  updatedAt: number;
}

export interface InvitationRecord {
  id: string;
  organizationId: string;
  emailAddress: string;
  role: string;
  inviterUserId: string | null;
  status: 'pending' | 'accepted' | 'revoked' | 'expired';
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
}

/** Direct data access for test and benchmark setup: no HTTP, no latency, no webhooks. */
export interface EmulatorStore {
  createUser(input: {
    firstName?: string | null;
    lastName?: string | null;
    emailAddress: string;
    imageUrl?: string;
  }): UserRecord;
  createOrganization(input: { name: string; slug?: string; createdBy?: string }): OrganizationRecord;
  addMembership(organizationId: string, userId: string, role?: string): MembershipRecord;
  addInvitation(
    organizationId: string,
    input: { emailAddress: string; role?: string; inviterUserId?: string },
  ): InvitationRecord;
  /** Creates `count` users (realistic names, unique emails) and makes them members, newest last. */
  populate(organizationId: string, count: number, role?: string): MembershipRecord[];
  getUser(id: string): UserRecord | undefined;
  getOrganization(idOrSlug: string): OrganizationRecord | undefined;
  listMemberships(organizationId: string): MembershipRecord[];
}

export interface DemoFixture {
  /** A small team: 2 admins, 6 members, 3 pending invitations. */
  acme: {
    organizationId: string;
    slug: 'acme';
    adminUserIds: string[];
    memberUserIds: string[];
    pendingInvitationIds: string[];
  };
  /** Exactly 500 members. */
  globex: { organizationId: string; slug: 'globex'; memberCount: 500 };
  /** Exactly 2,500 members. */
  initech: { organizationId: string; slug: 'initech'; memberCount: 2500 };
  /** A user who belongs to no organization. */
  outsiderUserId: string;
}

/** Runtime knobs, the same operations as the HTTP control API under `/__emulator/`. */
export interface EmulatorControl {
  setLatency(latency: { fixedMs: number; jitterMs?: number }): void;
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Requests per route key since the last reset. */
  counters(): Record<string, number>;
  resetCounters(): void;
  requestLog(): RequestLogEntry[];
  deliveries(): WebhookDeliveryAttempt[];
  setWebhookDelivery(options: WebhookDeliveryOptions): void;
  addWebhookEndpoint(endpoint: WebhookEndpoint): void;
  /** Resolves once no webhook delivery is pending or scheduled for retry. */
  webhooksSettled(): Promise<void>;
  /** Accepts a pending invitation as a user (creating the user if needed); emits the webhooks Clerk emits. */
  acceptInvitation(invitationId: string, userId?: string): Promise<{ membershipId: string; userId: string }>;
  setRateLimit(setting: RateLimitSetting): void;
  /** Turns Clerk's last-manager check (`organization_minimum_permissions_needed`) on or off; see the start option. */
  setMinimumPermissionsCheck(enabled: boolean): void;
  /**
   * Moves the emulator's clock forward by `ms` (invitation expiry and new records' timestamps follow it; session
   * tokens and webhook timestamps keep the real clock). Returns the emulator's new time in epoch ms.
   */
  advanceClock(ms: number): number;
  /**
   * Makes a pending invitation expire at `expiresAt` (epoch ms, not in the future; default now): from then on it
   * reads as 'expired', holds no seat and cannot be revoked. Clerk sends no webhook for an expiry.
   */
  expireInvitation(invitationId: string, expiresAt?: number): InvitationRecord;
  /**
   * Defines a custom organization role as the Dashboard does (emits `permission.created` for each new permission
   * key, then `role.created`). Members and invitations may then hold it; memberships carry its permissions.
   */
  createOrganizationRole(input: {
    key: string;
    name: string;
    description?: string | null;
    permissions: string[];
  }): { id: string; key: string };
}

export interface ClerkEmulator {
  /** 'http://127.0.0.1:PORT', without '/v1' (the SDK appends it). */
  readonly url: string;
  readonly secretKey: string;
  /** RSA-2048 SPKI PEM (`-----BEGIN PUBLIC KEY-----`) that verifies minted tokens. */
  readonly publicKeyPem: string;
  /** JWKS key id, 'ins_…'. */
  readonly kid: string;
  readonly instanceId: string;
  /** Present when started with seed 'demo'. */
  readonly demo: DemoFixture | undefined;
  readonly store: EmulatorStore;
  readonly control: EmulatorControl;
  mintToken(options: MintTokenOptions): string;
  close(): Promise<void>;
}
