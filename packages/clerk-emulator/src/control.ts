/**
 * Runtime control: the programmatic `EmulatorControl` and the same operations over HTTP under `/__emulator/`
 * (no key needed; JSON in and out, snake_case keys).
 */
import type { Actions } from './actions.js';
import type {
  DemoFixture,
  EmulatorControl,
  FaultKind,
  FaultSpec,
  MintTokenOptions,
  RateLimitSetting,
  WebhookDeliveryOptions,
  WebhookEndpoint,
} from './contract.js';
import { ClerkApiError, errorBody, errorItem } from './errors.js';
import type { ControlHandler, ControlResponse, RawBody } from './http.js';
import type { Knobs } from './knobs.js';
import { invitationJson, userJson } from './serialize.js';
import type { Store } from './store.js';
import type { WebhookDispatcher } from './webhooks.js';

export interface ControlDeps {
  store: Store;
  actions: Actions;
  knobs: Knobs;
  webhooks: WebhookDispatcher;
  mintToken(options: MintTokenOptions): string;
  demo: DemoFixture | undefined;
  info(): Record<string, unknown>;
}

export interface ExtendedControl extends EmulatorControl {
  /** Removes every webhook endpoint. */
  clearWebhookEndpoints(): void;
  webhookEndpoints(): WebhookEndpoint[];
}

export function createControl(deps: ControlDeps): ExtendedControl {
  const { knobs, webhooks, actions } = deps;
  return {
    setLatency({ fixedMs, jitterMs }) {
      knobs.setLatency(fixedMs, jitterMs ?? 0);
    },
    injectFault(fault) {
      knobs.injectFault(fault);
    },
    clearFaults() {
      knobs.clearFaults();
    },
    counters() {
      return knobs.counters();
    },
    resetCounters() {
      knobs.resetCounters();
    },
    requestLog() {
      return knobs.requestLog();
    },
    deliveries() {
      return webhooks.deliveries();
    },
    setWebhookDelivery(options: WebhookDeliveryOptions) {
      webhooks.setOptions(options);
    },
    addWebhookEndpoint(endpoint: WebhookEndpoint) {
      webhooks.addEndpoint(endpoint);
    },
    clearWebhookEndpoints() {
      webhooks.clearEndpoints();
    },
    webhookEndpoints() {
      return webhooks.listEndpoints();
    },
    webhooksSettled() {
      return webhooks.settled();
    },
    setMinimumPermissionsCheck(enabled: boolean) {
      actions.minimumPermissionsCheck = enabled;
    },
    async acceptInvitation(invitationId: string, userId?: string) {
      return actions.acceptInvitation(invitationId, userId);
    },
    setRateLimit(setting: RateLimitSetting) {
      knobs.setRateLimit(setting);
    },
    advanceClock(ms: number) {
      return deps.store.advanceClock(ms);
    },
    expireInvitation(invitationId: string, expiresAt?: number) {
      return deps.store.expireInvitation(invitationId, expiresAt);
    },
    createOrganizationRole(input) {
      const role = actions.createOrganizationRole(input);
      return { id: role.id as string, key: role.key as string };
    },
  };
}

// ---- HTTP ----

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

function parseJson(raw: RawBody): Json {
  if (raw.tooLarge) throw new ControlError(413, 'request body too large');
  if (raw.text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.text);
  } catch {
    throw new ControlError(400, 'request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ControlError(400, 'request body must be a JSON object');
  }
  return parsed as Json;
}

function optional<T>(
  body: Json,
  name: string,
  check: (v: unknown) => v is T,
  expected: string,
): T | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (!check(value)) throw new ControlError(400, `${name} must be ${expected}`);
  return value;
}

function required<T>(body: Json, name: string, check: (v: unknown) => v is T, expected: string): T {
  const value = optional(body, name, check, expected);
  if (value === undefined) throw new ControlError(400, `${name} is required`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

function rateLimitSetting(value: unknown): RateLimitSetting {
  if (value === false || value === 'development' || value === 'production') return value;
  if (typeof value === 'object' && value !== null) {
    const v = value as Json;
    const requests = v.requests;
    const windowMs = v.window_ms ?? v.windowMs;
    if (isNumber(requests) && isNumber(windowMs)) return { requests, windowMs };
  }
  throw new ControlError(400, 'setting must be false, "development", "production" or {requests, window_ms}');
}

function faultSpec(body: Json): FaultSpec {
  const kind = required(body, 'kind', isString, 'a string') as FaultKind;
  const route = optional(body, 'route', isNonEmptyString, 'a route key');
  const count = optional(body, 'count', isInteger, 'an integer');
  const fraction = optional(body, 'fraction', isNumber, 'a number');
  const retryAfter =
    optional(body, 'retry_after_seconds', isNumber, 'a number') ??
    optional(body, 'retryAfterSeconds', isNumber, 'a number');
  return {
    kind,
    ...(route !== undefined ? { route } : {}),
    ...(count !== undefined ? { count } : {}),
    ...(fraction !== undefined ? { fraction } : {}),
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
  };
}

const ok = (body: unknown = { ok: true }, status = 200): ControlResponse => ({ status, body });

export function createControlHandler(deps: ControlDeps, control: ExtendedControl): ControlHandler {
  const { store, knobs } = deps;
  const clockJson = () => ({ now: store.clock(), offset_ms: store.clockOffset() });

  const routes: Record<string, (body: Json, params: string[]) => Promise<ControlResponse> | ControlResponse> =
    {
      'GET /__emulator': () => ok(deps.info()),
      'GET /__emulator/demo': () =>
        deps.demo ? ok(deps.demo) : ok({ error: 'the emulator was not started with the demo seed' }, 404),

      'POST /__emulator/tokens': (body) => {
        const version = optional(body, 'claims_version', isInteger, '1 or 2');
        if (version !== undefined && version !== 1 && version !== 2) {
          throw new ControlError(400, 'claims_version must be 1 or 2');
        }
        const orgId = optional(body, 'org_id', isNonEmptyString, 'a string');
        const orgRole = optional(body, 'org_role', isNonEmptyString, 'a string');
        const azp = optional(body, 'azp', isString, 'a string');
        const expiresInS = optional(body, 'expires_in_s', isNumber, 'a number');
        const issuedAtS = optional(body, 'issued_at_s', isNumber, 'a number');
        const sessionId = optional(body, 'session_id', isNonEmptyString, 'a string');
        const token = deps.mintToken({
          userId: required(body, 'user_id', isNonEmptyString, 'a string'),
          ...(orgId !== undefined ? { orgId } : {}),
          ...(orgRole !== undefined ? { orgRole } : {}),
          ...(version !== undefined ? { claimsVersion: version } : {}),
          ...(azp !== undefined ? { azp } : {}),
          ...(expiresInS !== undefined ? { expiresInS } : {}),
          ...(issuedAtS !== undefined ? { issuedAtS } : {}),
          ...(sessionId !== undefined ? { sessionId } : {}),
        });
        return ok({ token });
      },

      'GET /__emulator/latency': () => ok({ fixed_ms: knobs.latencyMs, jitter_ms: knobs.jitterMs }),
      'POST /__emulator/latency': (body) => {
        const fixedMs = optional(body, 'fixed_ms', isNumber, 'a number') ?? 0;
        const jitterMs = optional(body, 'jitter_ms', isNumber, 'a number') ?? 0;
        control.setLatency({ fixedMs, jitterMs });
        return ok({ fixed_ms: knobs.latencyMs, jitter_ms: knobs.jitterMs });
      },

      'GET /__emulator/faults': () => ok(faultsJson(knobs)),
      'POST /__emulator/faults': (body) => {
        control.injectFault(faultSpec(body));
        return ok(faultsJson(knobs));
      },
      'DELETE /__emulator/faults': () => {
        control.clearFaults();
        return ok(faultsJson(knobs));
      },

      'GET /__emulator/counters': () => ok(control.counters()),
      'POST /__emulator/counters/reset': () => {
        control.resetCounters();
        return ok();
      },
      'GET /__emulator/requests': () => ok(control.requestLog()),

      'GET /__emulator/webhooks/deliveries': () =>
        ok(
          control.deliveries().map((d) => ({
            msg_id: d.msgId,
            event_type: d.eventType,
            url: d.url,
            attempt: d.attempt,
            status: d.status,
            at: d.at,
          })),
        ),
      'GET /__emulator/webhooks/options': () => ok(webhookOptionsJson(deps.webhooks.getOptions())),
      'POST /__emulator/webhooks/options': (body) => {
        const duplicate = optional(body, 'duplicate', isBoolean, 'a boolean');
        const delayMs = optional(body, 'delay_ms', isNumber, 'a number');
        const reorder = optional(body, 'reorder', isBoolean, 'a boolean');
        control.setWebhookDelivery({
          ...(duplicate !== undefined ? { duplicate } : {}),
          ...(delayMs !== undefined ? { delayMs } : {}),
          ...(reorder !== undefined ? { reorder } : {}),
        });
        return ok(webhookOptionsJson(deps.webhooks.getOptions()));
      },
      'GET /__emulator/webhooks/endpoints': () => ok(control.webhookEndpoints()),
      'POST /__emulator/webhooks/endpoints': (body) => {
        const url = required(body, 'url', isNonEmptyString, 'a URL');
        const secret = required(body, 'secret', isNonEmptyString, 'a whsec_ secret');
        try {
          control.addWebhookEndpoint({ url, secret });
        } catch (error) {
          throw new ControlError(400, (error as Error).message);
        }
        return ok(control.webhookEndpoints());
      },
      'DELETE /__emulator/webhooks/endpoints': () => {
        control.clearWebhookEndpoints();
        return ok([]);
      },
      'GET /__emulator/webhooks/settled': async () => {
        await control.webhooksSettled();
        return ok({ settled: true });
      },
      'POST /__emulator/webhooks/settled': async () => {
        await control.webhooksSettled();
        return ok({ settled: true });
      },

      'POST /__emulator/invitations/{id}/accept': async (body, [invitationId = '']) => {
        const userId = optional(body, 'user_id', isNonEmptyString, 'a string');
        const result = await control.acceptInvitation(invitationId, userId);
        return ok({ membership_id: result.membershipId, user_id: result.userId });
      },

      'GET /__emulator/clock': () => ok(clockJson()),
      'POST /__emulator/clock': (body) => {
        const advanceMs = required(body, 'advance_ms', isNumber, 'a number of milliseconds');
        if (advanceMs < 0)
          throw new ControlError(400, 'advance_ms must not be negative (the clock only moves forward)');
        control.advanceClock(advanceMs);
        return ok(clockJson());
      },
      'POST /__emulator/invitations/{id}/expire': (body, [invitationId = '']) => {
        const expiresAt = optional(body, 'expires_at', isInteger, 'epoch milliseconds');
        if (expiresAt !== undefined && expiresAt > store.clock()) {
          throw new ControlError(400, 'expires_at must not be in the future (on the emulator clock)');
        }
        control.expireInvitation(invitationId, expiresAt);
        const invitation = store.getInvitation(invitationId);
        return ok(invitation ? invitationJson(store, invitation) : {});
      },
      'POST /__emulator/organization_roles': (body) => {
        const permissions = body.permissions ?? [];
        if (!Array.isArray(permissions) || !permissions.every(isNonEmptyString)) {
          throw new ControlError(400, 'permissions must be an array of permission keys');
        }
        const description = optional(body, 'description', isString, 'a string');
        const role = deps.actions.createOrganizationRole({
          key: required(body, 'key', isNonEmptyString, 'a role key (org:…)'),
          name: required(body, 'name', isNonEmptyString, 'a string'),
          ...(description !== undefined ? { description } : {}),
          permissions,
        });
        return ok(role);
      },

      'GET /__emulator/rate-limit': () => ok({ setting: rateLimitJson(knobs.getRateLimit()) }),
      'POST /__emulator/rate-limit': (body) => {
        if (!('setting' in body)) throw new ControlError(400, 'setting is required');
        control.setRateLimit(rateLimitSetting(body.setting));
        return ok({ setting: rateLimitJson(knobs.getRateLimit()) });
      },

      'POST /__emulator/minimum-permissions-check': (body) => {
        if (typeof body.enabled !== 'boolean') throw new ControlError(400, 'enabled must be a boolean');
        control.setMinimumPermissionsCheck(body.enabled);
        return ok({ enabled: body.enabled });
      },

      'POST /__emulator/organizations': (body) => {
        const name = required(body, 'name', isNonEmptyString, 'a string');
        const slug = optional(body, 'slug', isNonEmptyString, 'a string');
        const createdBy = optional(body, 'created_by', isNonEmptyString, 'a user id');
        const members = optional(body, 'members', isInteger, 'an integer') ?? 0;
        if (members < 0 || members > 1_000_000)
          throw new ControlError(400, 'members must be within 0..1000000');
        const admins = optional(body, 'admins', isInteger, 'an integer') ?? 0;
        const org = store.createOrganization({
          name,
          ...(slug !== undefined ? { slug } : {}),
          ...(createdBy !== undefined ? { createdBy } : {}),
        });
        const adminCount = Math.min(admins, members);
        if (adminCount > 0) store.populate(org.id, adminCount, 'org:admin');
        if (members - adminCount > 0) store.populate(org.id, members - adminCount, 'org:member');
        return ok({ id: org.id, slug: org.slug, members_count: store.membersCount(org.id) });
      },
      'POST /__emulator/users': (body) => {
        const firstName = optional(body, 'first_name', isString, 'a string');
        const lastName = optional(body, 'last_name', isString, 'a string');
        const user = store.createUser({
          emailAddress: required(body, 'email_address', isNonEmptyString, 'an email address'),
          ...(firstName !== undefined ? { firstName } : {}),
          ...(lastName !== undefined ? { lastName } : {}),
        });
        return ok(userJson(user));
      },
      'POST /__emulator/organizations/{id}/memberships': (body, [organizationId = '']) => {
        const userId = required(body, 'user_id', isNonEmptyString, 'a user id');
        const role = optional(body, 'role', isNonEmptyString, 'a role key') ?? 'org:member';
        const membership = store.addMembership(organizationId, userId, role);
        return ok({ id: membership.id });
      },
    };

  const patterns = Object.keys(routes).map((key) => {
    const [method = '', path = ''] = key.split(' ');
    return { key, method, parts: path.split('/').filter(Boolean) };
  });

  return async (method, path, _query, raw) => {
    const parts = path.split('/').filter(Boolean);
    let decoded: string[];
    try {
      decoded = parts.map((part) => decodeURIComponent(part));
    } catch {
      return ok({ errors: [errorItem('resource_not_found', 'not found', 'Unknown control route.')] }, 404);
    }
    for (const pattern of patterns) {
      if (pattern.method !== method || pattern.parts.length !== decoded.length) continue;
      const params: string[] = [];
      const matches = pattern.parts.every((part, i) => {
        if (part.startsWith('{')) {
          params.push(decoded[i] ?? '');
          return true;
        }
        return part === decoded[i];
      });
      if (!matches) continue;
      const handler = routes[pattern.key];
      if (!handler) break;
      try {
        const body = method === 'GET' || method === 'DELETE' ? {} : parseJson(raw);
        return await handler(body, params);
      } catch (error) {
        if (error instanceof ClerkApiError) return { status: error.status, body: errorBody(error.errors) };
        const status = error instanceof ControlError ? error.status : 400;
        const message = error instanceof Error ? error.message : String(error);
        return { status, body: { errors: [errorItem('invalid_control_request', message, message)] } };
      }
    }
    return ok(
      { errors: [errorItem('resource_not_found', 'not found', `Unknown control route ${method} ${path}.`)] },
      404,
    );
  };
}

function faultsJson(knobs: Knobs): Json[] {
  return knobs.activeFaults().map((fault) => ({
    route: fault.route,
    kind: fault.kind,
    ...(fault.count !== undefined ? { count: fault.count } : {}),
    ...(fault.fraction !== undefined ? { fraction: fault.fraction } : {}),
    retry_after_seconds: fault.retryAfterSeconds,
  }));
}

function webhookOptionsJson(options: Required<WebhookDeliveryOptions>): Json {
  return { duplicate: options.duplicate, delay_ms: options.delayMs, reorder: options.reorder };
}

function rateLimitJson(setting: RateLimitSetting): unknown {
  if (typeof setting === 'object') return { requests: setting.requests, window_ms: setting.windowMs };
  return setting;
}
