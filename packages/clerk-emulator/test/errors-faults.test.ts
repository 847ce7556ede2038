import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClerkEmulator, DemoFixture } from '../src/contract.js';
import { startClerkEmulator } from '../src/index.js';
import {
  api,
  clerkError,
  expectClerkErrorResponse,
  is4xx,
  jsonInit,
  sdkFor,
  startDemoEmulator,
} from './helpers.js';

let emulator: ClerkEmulator;
let demo: DemoFixture;
let clerk: ReturnType<typeof sdkFor>;
const MEMBERSHIPS_ROUTE = 'GET /v1/organizations/{id}/memberships';

beforeAll(async () => {
  ({ emulator, demo, clerk } = await startDemoEmulator());
});

afterEach(() => {
  emulator.control.clearFaults();
});

afterAll(async () => {
  await emulator?.close();
});

async function expectStillAnswering(): Promise<void> {
  const org = await clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId });
  expect(org.slug).toBe('acme');
}

describe('Clerk errors', () => {
  it('unknown organization: 404 resource_not_found with a trace id', async () => {
    const err = await clerkError(clerk.organizations.getOrganization({ organizationId: 'org_doesnotexist' }));
    expect(err.status).toBe(404);
    expect(err.errors[0]?.code).toBe('resource_not_found');
    expect(typeof err.errors[0]?.message).toBe('string');
    expect(err.clerkTraceId).toBeTruthy();

    const bySlug = await clerkError(clerk.organizations.getOrganization({ slug: 'no-such-slug' }));
    expect(bySlug.status).toBe(404);
    expect(bySlug.errors[0]?.code).toBe('resource_not_found');
  });

  it('unknown organization on the membership and invitation lists: 404', async () => {
    const memberships = await clerkError(
      clerk.organizations.getOrganizationMembershipList({ organizationId: 'org_doesnotexist' }),
    );
    expect(memberships.status).toBe(404);
    expect(memberships.errors[0]?.code).toBe('resource_not_found');
    const invitations = await clerkError(
      clerk.organizations.getOrganizationInvitationList({
        organizationId: 'org_doesnotexist',
        status: ['pending'],
      }),
    );
    expect(invitations.status).toBe(404);
  });

  it('unknown user: 404 resource_not_found', async () => {
    const err = await clerkError(clerk.users.getUser('user_doesnotexist'));
    expect(err.status).toBe(404);
    expect(err.errors[0]?.code).toBe('resource_not_found');
  });

  it('raw error body has the Clerk shape', async () => {
    const res = await api(emulator, '/organizations/org_doesnotexist');
    const body = await expectClerkErrorResponse(res, 404, 'resource_not_found');
    expect(typeof body.clerk_trace_id).toBe('string');
    expect(body.errors[0]).toHaveProperty('long_message');
    expect(body.errors[0]).toHaveProperty('meta');
  });

  it('limit 501 via the SDK: 422 form_param_value_invalid', async () => {
    const err = await clerkError(
      clerk.organizations.getOrganizationMembershipList({
        organizationId: demo.acme.organizationId,
        limit: 501,
      }),
    );
    expect(err.status).toBe(422);
    expect(err.errors[0]?.code).toBe('form_param_value_invalid');
  });

  it('limit 0 and other bad paging values (raw, since the SDK drops falsy values): 422', async () => {
    const base = `/organizations/${demo.acme.organizationId}/memberships`;
    for (const query of ['limit=0', 'limit=501', 'limit=-1', 'limit=abc', 'offset=-1']) {
      const res = await api(emulator, `${base}?${query}`);
      await expectClerkErrorResponse(res, 422, 'form_param_value_invalid');
    }
    const ok = await api(emulator, `${base}?limit=500`);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
  });

  it('wrong secret key: 401 clerk_key_invalid', async () => {
    const wrong = sdkFor(emulator, 'sk_test_wrong_key');
    const err = await clerkError(
      wrong.organizations.getOrganization({ organizationId: demo.acme.organizationId }),
    );
    expect(err.status).toBe(401);
    expect(err.errors[0]?.code).toBe('clerk_key_invalid');
  });

  it('missing Authorization header: 401', async () => {
    const res = await fetch(`${emulator.url}/v1/organizations/${demo.acme.organizationId}`);
    await expectClerkErrorResponse(res, 401);
  });

  it('unknown /v1 route: 404 with a Clerk error body', async () => {
    const res = await api(emulator, '/no/such/route');
    await expectClerkErrorResponse(res, 404);
  });
});

describe('injected faults', () => {
  it('rateLimit: 429 with Retry-After surfaced as err.retryAfter, then normal again', async () => {
    emulator.control.injectFault({ kind: 'rateLimit', retryAfterSeconds: 7, count: 1 });
    const err = await clerkError(
      clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId }),
    );
    expect(err.status).toBe(429);
    expect(err.retryAfter).toBe(7);
    await expectStillAnswering();
  });

  it('rateLimit on the raw wire: Retry-After header and a Clerk error body', async () => {
    emulator.control.injectFault({ kind: 'rateLimit', retryAfterSeconds: 3, count: 1 });
    const res = await api(emulator, `/organizations/${demo.acme.organizationId}`);
    expect(res.headers.get('retry-after')).toBe('3');
    await expectClerkErrorResponse(res, 429);
  });

  it('status500 for the next N requests only', async () => {
    emulator.control.injectFault({ kind: 'status500', count: 2 });
    for (let i = 0; i < 2; i++) {
      const err = await clerkError(
        clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId }),
      );
      expect(err.status).toBe(500);
    }
    await expectStillAnswering();
  });

  it('status503', async () => {
    emulator.control.injectFault({ kind: 'status503', count: 1 });
    const err = await clerkError(
      clerk.organizations.getOrganization({ organizationId: demo.acme.organizationId }),
    );
    expect(err.status).toBe(503);
    await expectStillAnswering();
  });

  it('a fault on one route leaves the others alone', async () => {
    emulator.control.injectFault({ kind: 'status500', route: MEMBERSHIPS_ROUTE, count: 1 });
    await expectStillAnswering();
    const err = await clerkError(
      clerk.organizations.getOrganizationMembershipList({ organizationId: demo.acme.organizationId }),
    );
    expect(err.status).toBe(500);
    const after = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.acme.organizationId,
    });
    expect(after.totalCount).toBe(8);
  });

  it('fraction 1 applies to every matching request until cleared', async () => {
    emulator.control.injectFault({ kind: 'status503', route: MEMBERSHIPS_ROUTE, fraction: 1 });
    for (let i = 0; i < 3; i++) {
      const err = await clerkError(
        clerk.organizations.getOrganizationMembershipList({ organizationId: demo.acme.organizationId }),
      );
      expect(err.status).toBe(503);
    }
    emulator.control.clearFaults();
    const after = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.acme.organizationId,
    });
    expect(after.totalCount).toBe(8);
  });

  it('fraction 0 never applies', async () => {
    emulator.control.injectFault({ kind: 'status500', fraction: 0 });
    for (let i = 0; i < 3; i++) await expectStillAnswering();
  });

  it('malformed: the SDK call fails instead of returning data, then normal again', async () => {
    emulator.control.injectFault({ kind: 'malformed', route: MEMBERSHIPS_ROUTE, count: 1 });
    await clerkError(
      clerk.organizations.getOrganizationMembershipList({ organizationId: demo.acme.organizationId }),
    );
    const after = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.acme.organizationId,
    });
    expect(after.totalCount).toBe(8);
  });

  it('malformed on the raw wire: the body is not a valid list response', async () => {
    emulator.control.injectFault({ kind: 'malformed', route: MEMBERSHIPS_ROUTE, count: 1 });
    const res = await api(emulator, `/organizations/${demo.acme.organizationId}/memberships`);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const valid =
      res.ok &&
      typeof parsed === 'object' &&
      parsed !== null &&
      Array.isArray((parsed as { data?: unknown }).data) &&
      typeof (parsed as { total_count?: unknown }).total_count === 'number';
    expect(valid).toBe(false);
  });

  it('hang: the request gets no answer (aborted client-side), later requests are fine', async () => {
    emulator.control.injectFault({ kind: 'hang', route: MEMBERSHIPS_ROUTE, count: 1 });
    const controller = new AbortController();
    const pending = api(emulator, `/organizations/${demo.acme.organizationId}/memberships`, {
      signal: controller.signal,
    });
    // While the hung request is open, the emulator keeps answering others.
    await expectStillAnswering();
    controller.abort();
    await expect(pending).rejects.toThrow();
    const after = await clerk.organizations.getOrganizationMembershipList({
      organizationId: demo.acme.organizationId,
    });
    expect(after.totalCount).toBe(8);
  });

  it('hang: close() resolves while a request is hanging, and the hung client is released', async () => {
    const own = await startClerkEmulator({ seed: 'empty' });
    own.control.injectFault({ kind: 'hang', fraction: 1 });
    const probe = api(own, '/organizations', { signal: AbortSignal.timeout(200) });
    const hung = api(own, '/organizations').then(
      () => 'answered',
      () => 'released',
    );
    // The probe proves the fault holds requests (no answer within 200 ms).
    await expect(probe).rejects.toThrow();
    await own.close();
    expect(await hung).toBe('released');
  });

  it('clearFaults removes pending count faults', async () => {
    emulator.control.injectFault({ kind: 'status500', count: 5 });
    emulator.control.clearFaults();
    await expectStillAnswering();
  });
});

describe('bad writes leave data unchanged', () => {
  const memberCount = async () =>
    (await clerk.organizations.getOrganizationMembershipList({ organizationId: demo.acme.organizationId }))
      .totalCount;
  const pendingCount = async () =>
    (
      await clerk.organizations.getOrganizationInvitationList({
        organizationId: demo.acme.organizationId,
        status: ['pending'],
      })
    ).totalCount;

  it('membership create: malformed JSON, unknown field, wrong types, missing field → 4xx', async () => {
    const path = `/organizations/${demo.acme.organizationId}/memberships`;
    const userId = demo.outsiderUserId;
    const bodies: unknown[] = [
      '{"user_id": ',
      'not json at all',
      { user_id: userId, role: 'org:member', bogus_field: true },
      { user_id: 42, role: 'org:member' },
      { user_id: userId, role: ['org:member'] },
      { role: 'org:member' },
      [{ user_id: userId, role: 'org:member' }],
    ];
    for (const body of bodies) {
      const res = await api(emulator, path, jsonInit('POST', body));
      await expectClerkErrorResponse(res, is4xx);
    }
    expect(await memberCount()).toBe(8);
    expect(emulator.store.listMemberships(demo.acme.organizationId).some((m) => m.userId === userId)).toBe(
      false,
    );
    await expectStillAnswering();
  });

  it('membership update with a wrong type → 4xx, role unchanged', async () => {
    const userId = demo.acme.memberUserIds[0] ?? '';
    const path = `/organizations/${demo.acme.organizationId}/memberships/${userId}`;
    for (const body of ['{', { role: 7 }, { role: 'org:admin', extra: 1 }]) {
      const res = await api(emulator, path, jsonInit('PATCH', body));
      await expectClerkErrorResponse(res, is4xx);
    }
    const membership = emulator.store
      .listMemberships(demo.acme.organizationId)
      .find((m) => m.userId === userId);
    expect(membership?.role).toBe('org:member');
  });

  it('invitation create: bad bodies → 4xx, no new invitation', async () => {
    const path = `/organizations/${demo.acme.organizationId}/invitations`;
    const bodies: unknown[] = [
      '{{',
      { email_address: 12345, role: 'org:member' },
      { email_address: 'x@example.test', role: 'org:member', surprise: 'yes' },
      { role: 'org:member' },
    ];
    for (const body of bodies) {
      const res = await api(emulator, path, jsonInit('POST', body));
      await expectClerkErrorResponse(res, is4xx);
    }
    expect(await pendingCount()).toBe(3);
  });

  it('user update with a wrong type → 4xx, user unchanged', async () => {
    const userId = demo.acme.adminUserIds[0] ?? '';
    const before = await clerk.users.getUser(userId);
    for (const body of ['[1,', { first_name: 42 }, { first_name: 'Ok', not_a_field: 1 }]) {
      const res = await api(emulator, `/users/${userId}`, jsonInit('PATCH', body));
      await expectClerkErrorResponse(res, is4xx);
    }
    const after = await clerk.users.getUser(userId);
    expect(after.firstName).toBe(before.firstName);
    expect(after.lastName).toBe(before.lastName);
  });

  it('organization create: bad bodies → 4xx, no new organization', async () => {
    const before = (await clerk.organizations.getOrganizationList({ limit: 500 })).totalCount;
    for (const body of ['nope', { name: ['x'] }, { name: 'Fine', unknown_thing: 1 }, {}]) {
      const res = await api(emulator, '/organizations', jsonInit('POST', body));
      await expectClerkErrorResponse(res, is4xx);
    }
    const after = (await clerk.organizations.getOrganizationList({ limit: 500 })).totalCount;
    expect(after).toBe(before);
  });

  it('writes to unknown resources → 404', async () => {
    await expectClerkErrorResponse(
      await api(
        emulator,
        '/organizations/org_nope/memberships',
        jsonInit('POST', { user_id: 'u', role: 'org:member' }),
      ),
      404,
      'resource_not_found',
    );
    await expectClerkErrorResponse(
      await api(emulator, `/organizations/${demo.acme.organizationId}/memberships/user_nope`, {
        method: 'DELETE',
      }),
      404,
    );
    await expectClerkErrorResponse(
      await api(emulator, `/organizations/${demo.acme.organizationId}/invitations/orginv_nope/revoke`, {
        method: 'POST',
      }),
      404,
    );
    await expectClerkErrorResponse(await api(emulator, '/users/user_nope', { method: 'DELETE' }), 404);
    await expectClerkErrorResponse(await api(emulator, '/organizations/org_nope', { method: 'DELETE' }), 404);
    expect(await memberCount()).toBe(8);
    await expectStillAnswering();
  });
});
