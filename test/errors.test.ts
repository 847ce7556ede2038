/** Bad input and Clerk failures with nothing cached: clear codes, nothing cached, the process unharmed. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Page } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

const MEMBERSHIPS = 'GET /v1/organizations/{id}/memberships';
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { seed: 'empty' }, config: { clerkTimeoutMs: 500 } });
});
afterAll(() => h.close());
afterEach(() => h.emulator.control.clearFaults());

/** A fresh organization of three members and the first one's token: nothing about it is cached yet. */
function coldOrganization() {
  const team = seedTeam(h.emulator, { admins: 0, members: 3 });
  return { id: team.organizationId, token: team.members[0]?.token as string };
}

describe('bad input', () => {
  it.each([
    ['limit 0', { limit: 0 }, 'limit'],
    ['limit 501', { limit: 501 }, 'limit'],
    ['negative limit', { limit: -1 }, 'limit'],
    ['negative offset', { offset: -1 }, 'offset'],
  ])('%s → BAD_USER_INPUT, and Clerk is not asked', async (_name, variables, argumentName) => {
    const { id, token } = coldOrganization();
    h.emulator.control.resetCounters();
    const result = await h.query(Page, { token, variables: { id, ...variables } });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName });
    expect(result.errors?.[0]?.message).toMatch(argumentName);
    // The active-organization path authorizes without a roster read, so a bad argument costs Clerk nothing.
    expect(h.emulator.control.counters()[MEMBERSHIPS] ?? 0).toBe(0);
  });

  it('limit 1 and limit 500 are accepted', async () => {
    const { id, token } = coldOrganization();
    for (const limit of [1, 500]) {
      const result = await h.query(Page, { token, variables: { id, limit } });
      expect(result.errors).toBeUndefined();
    }
  });

  it('an ID that is not a Clerk organization ID → BAD_USER_INPUT before any Clerk call', async () => {
    const { token } = coldOrganization();
    h.emulator.control.resetCounters();
    const result = await h.query(Page, { token, variables: { id: 'org_x/../../users' } });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(Object.keys(h.emulator.control.counters())).toEqual([]);
  });

  it('a query that does not parse or validate is a GraphQL error, not a crash', async () => {
    const { token } = coldOrganization();
    const syntax = await h.query('{ organization(id: ', { token });
    expect(syntax.status).toBe(400);
    expect(syntax.errors?.[0]?.message).toMatch(/Syntax Error/);
    const unknownField = await h.query('{ organization(id: "org_1") { nope } }', { token });
    expect(unknownField.status).toBe(400);
    expect(unknownField.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });
});

describe('Clerk failing with nothing cached', () => {
  it('500 on every attempt → UPSTREAM_UNAVAILABLE, and the failure is not cached', async () => {
    const { id, token } = coldOrganization();
    // The first try and both retries fail.
    h.emulator.control.injectFault({ route: MEMBERSHIPS, kind: 'status500', count: 3 });
    const failed = await h.query(Page, { token, variables: { id } });
    expect(failed.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/Clerk is unavailable/),
      extensions: { code: 'UPSTREAM_UNAVAILABLE' },
    });
    const recovered = await h.query(Page, { token, variables: { id } });
    expect(recovered.data?.organization.members).toMatchObject({ totalCount: 3, fromCache: false });
  });

  it('a hanging Clerk → UPSTREAM_UNAVAILABLE once CLERK_TIMEOUT_MS has passed', async () => {
    const { id, token } = coldOrganization();
    h.emulator.control.injectFault({ route: MEMBERSHIPS, kind: 'hang', count: 1 });
    const result = await h.query(Page, { token, variables: { id } });
    expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('a malformed Clerk body → UPSTREAM_UNAVAILABLE', async () => {
    const { id, token } = coldOrganization();
    h.emulator.control.injectFault({ route: MEMBERSHIPS, kind: 'malformed', count: 3 });
    const result = await h.query(Page, { token, variables: { id } });
    expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('internal details never reach the client', async () => {
    const { id, token } = coldOrganization();
    h.emulator.control.injectFault({ route: MEMBERSHIPS, kind: 'status503', count: 3 });
    const result = await h.query(Page, { token, variables: { id } });
    const body = JSON.stringify(result.errors);
    expect(body).not.toMatch(/sk_test|stack|ClerkAPIResponseError|127\.0\.0\.1/);
  });
});

describe('Clerk rate limiting us with nothing cached', () => {
  // A 429 pauses calls on that route for Retry-After: its own server, so the other tests are not paused.
  let limited: Harness;
  beforeAll(async () => {
    limited = await startHarness({ emulator: { seed: 'empty' } });
  });
  afterAll(() => limited.close());

  it('429 → RATE_LIMITED with retryAfterSeconds from Retry-After', async () => {
    const { organizationId: id, members } = seedTeam(limited.emulator, {
      name: 'Limited Co',
      admins: 0,
      members: 1,
    });
    const token = members[0]?.token;
    limited.emulator.control.injectFault({
      route: MEMBERSHIPS,
      kind: 'rateLimit',
      count: 1,
      retryAfterSeconds: 7,
    });
    const result = await limited.query(Page, { token, variables: { id } });
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 7 });
  });
});
