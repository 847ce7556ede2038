import { randomBytes } from 'node:crypto';
import { createClerkClient } from '@clerk/backend';
import { ClerkAPIResponseError } from '@clerk/backend/errors';
import { Webhook } from 'svix';
import { expect } from 'vitest';
import type { ClerkEmulator } from '../src/contract.js';
import { startClerkEmulator } from '../src/index.js';
import { expectSpecWebhook } from './openapi.js';
import type { ReceivedWebhook } from './webhook-receiver.js';

export function sdkFor(emulator: ClerkEmulator, secretKey = emulator.secretKey) {
  return createClerkClient({ secretKey, apiUrl: emulator.url, telemetry: { disabled: true } });
}

/** An emulator with the demo seed, its fixture, and the SDK pointed at it: the setup most emulator suites share. */
export async function startDemoEmulator() {
  const emulator = await startClerkEmulator({ seed: 'demo' });
  if (!emulator.demo) throw new Error('demo seed did not expose a fixture');
  return { emulator, demo: emulator.demo, clerk: sdkFor(emulator) };
}

/** A Svix signing secret: `whsec_` + base64 of 24 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** A raw request to the emulator's `/v1` API (path starts after `/v1`), authorized with its secret key. */
export function api(emulator: ClerkEmulator, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('Authorization')) headers.set('Authorization', `Bearer ${emulator.secretKey}`);
  return fetch(`${emulator.url}/v1${path}`, { ...init, headers });
}

export function jsonInit(method: string, body: unknown): RequestInit {
  return {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** Awaits a promise that must reject with a `ClerkAPIResponseError` and returns that error. */
export async function clerkError(promise: Promise<unknown>): Promise<ClerkAPIResponseError> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ClerkAPIResponseError);
    return error as ClerkAPIResponseError;
  }
  throw new Error(
    `expected a ClerkAPIResponseError, got a result: ${JSON.stringify(outcome)?.slice(0, 300)}`,
  );
}

export interface ClerkErrorBody {
  errors: { message: string; long_message?: string; code: string; meta?: unknown }[];
  clerk_trace_id?: string;
}

/** Asserts a raw response is a Clerk error with the given status (and code, if given); returns the body. */
export async function expectClerkErrorResponse(
  res: Response,
  status: number | ((status: number) => boolean),
  code?: string,
): Promise<ClerkErrorBody> {
  if (typeof status === 'number') expect(res.status).toBe(status);
  else expect(status(res.status), `unexpected status ${res.status}`).toBe(true);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as ClerkErrorBody;
  expect(Array.isArray(body.errors)).toBe(true);
  expect(body.errors.length).toBeGreaterThan(0);
  const first = body.errors[0];
  expect(typeof first?.code).toBe('string');
  expect(typeof first?.message).toBe('string');
  if (code) expect(first?.code).toBe(code);
  return body;
}

export const is4xx = (status: number) => status >= 400 && status < 500;

export interface WebhookEnvelope {
  data: Record<string, unknown>;
  object: string;
  type: string;
  timestamp: number;
  instance_id: string;
  event_attributes?: unknown;
}

/** Verifies a received webhook's Svix signature over the raw body and returns the parsed event. */
export function verifyWebhook(secret: string, hook: ReceivedWebhook): WebhookEnvelope {
  return new Webhook(secret).verify(hook.body, hook.headers) as WebhookEnvelope;
}

export function eventOf(hook: Pick<ReceivedWebhook, 'body'>): WebhookEnvelope {
  return JSON.parse(hook.body) as WebhookEnvelope;
}

/** Matches a webhook by event type and an optional test on its data. */
export function ofType(type: string, dataTest: (data: Record<string, unknown>) => boolean = () => true) {
  return (hook: ReceivedWebhook) => {
    const event = eventOf(hook);
    return event.type === type && dataTest(event.data);
  };
}

/**
 * The SDK's resource classes are not exported as values, so check the constructor name (the bundle keeps class
 * names, sometimes with a leading underscore: `_OrganizationMembership`).
 */
export function expectSdkClass(value: unknown, className: string): void {
  expect(value).toBeTypeOf('object');
  const name = (value as object).constructor.name.replace(/^_+/, '');
  expect(name).toBe(className);
}

export function expectKeys(object: unknown, keys: readonly string[], label = 'object'): void {
  expect(object, `${label} should be an object`).toBeTypeOf('object');
  expect(object).not.toBeNull();
  const missing = keys.filter((key) => !Object.hasOwn(object as object, key));
  expect(missing, `${label} is missing keys`).toEqual([]);
}

// ---- Wire shapes, copied from spec/clerk-wire.md ----

export const MEMBERSHIP_KEYS = [
  'object',
  'id',
  'role',
  'role_name',
  'permissions',
  'public_metadata',
  'private_metadata',
  'created_at',
  'updated_at',
  'organization',
  'public_user_data',
] as const;

export const MEMBERSHIP_ORGANIZATION_KEYS = [
  'object',
  'id',
  'name',
  'slug',
  'image_url',
  'has_image',
  'members_count',
  'max_allowed_memberships',
  'admin_delete_enabled',
  'public_metadata',
  'private_metadata',
  'created_at',
  'updated_at',
] as const;

export const PUBLIC_USER_DATA_KEYS = [
  'user_id',
  'first_name',
  'last_name',
  'profile_image_url',
  'image_url',
  'has_image',
  'identifier',
] as const;

export const INVITATION_KEYS = [
  'object',
  'id',
  'email_address',
  'role',
  'role_name',
  'organization_id',
  'inviter_id',
  'public_inviter_data',
  'status',
  'public_metadata',
  'private_metadata',
  'url',
  'expires_at',
  'created_at',
  'updated_at',
] as const;

// ---- Required fields, copied from spec/webhooks_2025-04-15.yml ----

/** `WebhookEventPayload.required`. */
export const ENVELOPE_REQUIRED = ['object', 'type', 'timestamp', 'instance_id', 'data'] as const;

/** `Organization.required`. */
const ORGANIZATION_REQUIRED = [
  'object',
  'id',
  'name',
  'slug',
  'has_image',
  'max_allowed_memberships',
  'admin_delete_enabled',
  'public_metadata',
  'created_at',
  'updated_at',
] as const;

/** `DeletedObject.required`. */
const DELETED_OBJECT_REQUIRED = ['object', 'deleted'] as const;

/** `OrganizationInvitation.required`. */
const INVITATION_REQUIRED = [
  'object',
  'id',
  'email_address',
  'role',
  'role_name',
  'public_metadata',
  'url',
  'expires_at',
  'created_at',
  'updated_at',
  'inviter_id',
  'public_inviter_data',
] as const;

/** `OrganizationMembership.required`. */
const MEMBERSHIP_REQUIRED = [
  'object',
  'id',
  'role',
  'permissions',
  'public_metadata',
  'created_at',
  'updated_at',
  'organization',
] as const;

/** `User.required`. */
const USER_REQUIRED = [
  'id',
  'object',
  'username',
  'first_name',
  'last_name',
  'has_image',
  'primary_email_address_id',
  'primary_phone_number_id',
  'primary_web3_wallet_id',
  'password_enabled',
  'two_factor_enabled',
  'totp_enabled',
  'backup_code_enabled',
  'email_addresses',
  'phone_numbers',
  'web3_wallets',
  'passkeys',
  'external_accounts',
  'saml_accounts',
  'enterprise_accounts',
  'public_metadata',
  'external_id',
  'last_sign_in_at',
  'banned',
  'locked',
  'lockout_expires_in_seconds',
  'verification_attempts_remaining',
  'created_at',
  'updated_at',
  'delete_self_enabled',
  'create_organization_enabled',
  'last_active_at',
  'mfa_enabled_at',
  'mfa_disabled_at',
  'legal_accepted_at',
] as const;

/** `Permission.required`. */
const PERMISSION_REQUIRED = [
  'object',
  'id',
  'name',
  'key',
  'description',
  'type',
  'created_at',
  'updated_at',
] as const;

/** `Role.required`. */
const ROLE_REQUIRED = [
  'object',
  'id',
  'name',
  'key',
  'description',
  'is_creator_eligible',
  'permissions',
  'created_at',
  'updated_at',
] as const;

/** Fields the YAML marks required in `data`, per event type. */
export const REQUIRED_DATA_FIELDS: Record<string, readonly string[]> = {
  'organization.created': ORGANIZATION_REQUIRED,
  'organization.updated': ORGANIZATION_REQUIRED,
  'organization.deleted': DELETED_OBJECT_REQUIRED,
  'organizationInvitation.created': INVITATION_REQUIRED,
  'organizationInvitation.revoked': INVITATION_REQUIRED,
  // `OrganizationInvitationAcceptedPayload` = OrganizationInvitation + required `user_id` and `data`
  // (an object holding `public_organization_data`).
  'organizationInvitation.accepted': [...INVITATION_REQUIRED, 'user_id', 'data'],
  'organizationMembership.created': MEMBERSHIP_REQUIRED,
  'organizationMembership.updated': MEMBERSHIP_REQUIRED,
  'organizationMembership.deleted': MEMBERSHIP_REQUIRED,
  'user.created': USER_REQUIRED,
  'user.updated': USER_REQUIRED,
  'user.deleted': DELETED_OBJECT_REQUIRED,
  'permission.created': PERMISSION_REQUIRED,
  'role.created': ROLE_REQUIRED,
};

/** `OrganizationMembershipPublicUserData.required`. */
export const PUBLIC_USER_DATA_REQUIRED = [
  'user_id',
  'first_name',
  'last_name',
  'profile_image_url',
  'image_url',
  'has_image',
] as const;

/**
 * Verifies the signature and the envelope of a webhook, that `data` holds every required field of its event type
 * (memberships: also those of the nested organization and public user data), and the whole event against the
 * webhooks YAML's schema (test/openapi.ts). Returns the event.
 */
export function expectValidWebhook(
  secret: string,
  hook: ReceivedWebhook,
  instanceId: string,
): WebhookEnvelope {
  const event = verifyWebhook(secret, hook);
  expectKeys(event, ENVELOPE_REQUIRED, 'envelope');
  expect(event.object).toBe('event');
  expect(event.instance_id).toBe(instanceId);
  expect(Number.isInteger(event.timestamp)).toBe(true);
  // Milliseconds: after 2020-01-01 in ms, which in seconds would be far in the future.
  expect(event.timestamp).toBeGreaterThan(1_577_836_800_000);
  expect(Math.abs(event.timestamp - Date.now())).toBeLessThan(10 * 60_000);
  const required = REQUIRED_DATA_FIELDS[event.type];
  expect(required, `no required-field list for ${event.type}`).toBeDefined();
  expectKeys(event.data, required ?? [], `${event.type} data`);
  if (event.type.startsWith('organizationMembership.')) {
    expectKeys(event.data.organization, ORGANIZATION_REQUIRED, `${event.type} data.organization`);
    expectKeys(event.data.public_user_data, PUBLIC_USER_DATA_REQUIRED, `${event.type} data.public_user_data`);
  }
  expectSpecWebhook(event);
  return event;
}

/** Every `data` element of a list response, following offset pagination to the end. */
export async function collectAllPages<T>(
  fetchPage: (offset: number) => Promise<{ data: T[]; totalCount: number }>,
): Promise<{ items: T[]; totalCount: number; pages: number }> {
  const items: T[] = [];
  let totalCount = 0;
  let pages = 0;
  for (let offset = 0; ; ) {
    const page = await fetchPage(offset);
    pages += 1;
    totalCount = page.totalCount;
    items.push(...page.data);
    offset += page.data.length;
    if (page.data.length === 0 || offset >= page.totalCount) break;
  }
  return { items, totalCount, pages };
}
