/** Authentication (Clerk session JWTs) and authorization (organization membership), over real HTTP. */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FORBIDDEN_MESSAGE } from '../src/graphql/errors.js';
import { TeamSize, WhoAmI } from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
afterEach(() => {
  vi.useRealTimers();
});

const demo = () => {
  if (!h.emulator.demo) throw new Error('demo seed expected');
  return h.emulator.demo;
};

/** A JWT with the right shape signed by a key Clerk never issued. */
function forgedToken(userId: string) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const header = encode({ alg: 'RS256', kid: h.emulator.kid, typ: 'JWT' });
  const payload = encode({ sub: userId, sid: 'sess_forged', iat: now, nbf: now - 5, exp: now + 60, v: 2 });
  const signature = createSign('RSA-SHA256')
    .update(`${header}.${payload}`)
    .sign(privateKey)
    .toString('base64url');
  return `${header}.${payload}.${signature}`;
}

function expectUnauthenticated(result: Awaited<ReturnType<Harness['query']>>) {
  expect(result.status).toBe(401);
  expect(result.headers.get('www-authenticate')).toBe('Bearer');
  expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(result.data ?? null).toBeNull();
}

describe('authentication', () => {
  it('reads the viewer from v2 claims (o.id, o.rol without prefix)', async () => {
    const { acme } = demo();
    const userId = acme.adminUserIds[0] as string;
    const token = h.emulator.mintToken({
      userId,
      orgId: acme.organizationId,
      claimsVersion: 2,
      sessionId: 'sess_v2',
    });
    const result = await h.query(WhoAmI, { token });
    expect(result.status).toBe(200);
    expect(result.data?.viewer).toEqual({
      userId,
      sessionId: 'sess_v2',
      activeOrganizationId: acme.organizationId,
      activeOrganizationRole: 'org:admin',
    });
  });

  it('reads the viewer from v1 claims (org_id, org_role)', async () => {
    const { acme } = demo();
    const userId = acme.memberUserIds[0] as string;
    const token = h.emulator.mintToken({
      userId,
      orgId: acme.organizationId,
      claimsVersion: 1,
      sessionId: 'sess_v1',
    });
    const result = await h.query(WhoAmI, { token });
    expect(result.data?.viewer).toEqual({
      userId,
      sessionId: 'sess_v1',
      activeOrganizationId: acme.organizationId,
      activeOrganizationRole: 'org:member',
    });
  });

  it('a token without an active organization has null organization claims', async () => {
    const result = await h.query(WhoAmI, { token: h.emulator.mintToken({ userId: demo().outsiderUserId }) });
    expect(result.data?.viewer.activeOrganizationId).toBeNull();
    expect(result.data?.viewer.activeOrganizationRole).toBeNull();
  });

  it('401: no Authorization header', async () => {
    expectUnauthenticated(await h.query(WhoAmI));
  });

  it('401: an Authorization header that is not a Bearer token', async () => {
    expectUnauthenticated(await h.query(WhoAmI, { headers: { authorization: 'Basic dXNlcjpwYXNz' } }));
  });

  it('401: a bearer value that is not a JWT', async () => {
    expectUnauthenticated(await h.query(WhoAmI, { token: 'not-a-jwt' }));
  });

  it('401: an expired token', async () => {
    const token = h.emulator.mintToken({
      userId: demo().outsiderUserId,
      issuedAtS: Math.floor(Date.now() / 1000) - 600,
      expiresInS: 60,
    });
    const result = await h.query(WhoAmI, { token });
    expectUnauthenticated(result);
    expect(result.errors?.[0]?.message).toMatch(/expired/i);
  });

  it('401: a token signed by another key', async () => {
    expectUnauthenticated(await h.query(WhoAmI, { token: forgedToken(demo().outsiderUserId) }));
  });

  it('401: a token whose payload was altered after signing', async () => {
    const token = h.emulator.mintToken({ userId: demo().outsiderUserId });
    const [header, , signature] = token.split('.');
    const payload = Buffer.from(
      JSON.stringify({ sub: demo().acme.adminUserIds[0], exp: 9999999999 }),
    ).toString('base64url');
    expectUnauthenticated(await h.query(WhoAmI, { token: `${header}.${payload}.${signature}` }));
  });

  it('a cached verification does not outlive the token', async () => {
    // A fake wall clock (Date only: sockets and timers keep real time) moves the verifier's cache and verifyToken's
    // own expiry check together, so the token can expire without the test waiting for it.
    vi.useFakeTimers({ toFake: ['Date'] });
    const token = h.emulator.mintToken({ userId: demo().outsiderUserId, expiresInS: 60 });
    const expiresAt = Date.now() + 60_000;
    expect((await h.query(WhoAmI, { token })).status).toBe(200); // verified once, and cached

    // Expired, but inside Clerk's default 5 s clock skew: still accepted.
    vi.setSystemTime(expiresAt + 4_000);
    expect((await h.query(WhoAmI, { token })).status).toBe(200);
    // Past the skew: the cached result must die with the token.
    vi.setSystemTime(expiresAt + 6_000);
    expectUnauthenticated(await h.query(WhoAmI, { token }));
  });
});

describe('authorized parties (azp)', () => {
  let strict: Harness;
  beforeAll(async () => {
    strict = await startHarness({ config: { clerkAuthorizedParties: ['https://app.example.com'] } });
  });
  afterAll(() => strict.close());

  it('accepts a token for an allowed party and refuses one for another party with 401', async () => {
    const userId = strict.emulator.demo?.outsiderUserId as string;
    const allowed = strict.emulator.mintToken({ userId, azp: 'https://app.example.com' });
    const other = strict.emulator.mintToken({ userId, azp: 'https://evil.example.com' });
    expect((await strict.query(WhoAmI, { token: allowed })).data?.viewer.userId).toBe(userId);
    expectUnauthenticated(await strict.query(WhoAmI, { token: other }));
  });
});

describe('verification through the JWKS (no CLERK_JWT_KEY)', () => {
  let jwks: Harness;
  beforeAll(async () => {
    jwks = await startHarness({ useJwks: true });
  });
  afterAll(() => jwks.close());

  it('verifies tokens with the keys read from Clerk, and still refuses forged ones', async () => {
    const userId = jwks.emulator.demo?.outsiderUserId as string;
    const result = await jwks.query(WhoAmI, { token: jwks.emulator.mintToken({ userId }) });
    expect(result.data?.viewer.userId).toBe(userId);
    expect(jwks.emulator.control.counters()['GET /v1/jwks']).toBeGreaterThanOrEqual(1);
    expectUnauthenticated(await jwks.query(WhoAmI, { token: forgedToken(userId) }));
  });
});

describe('authorization', () => {
  it('a member whose token has no active organization may read it (found in the roster)', async () => {
    const { acme } = demo();
    const token = h.emulator.mintToken({ userId: acme.memberUserIds[1] as string });
    const result = await h.query(TeamSize, { token, variables: { id: acme.organizationId } });
    expect(result.data?.organization.members.totalCount).toBe(8);
  });

  it('a member with another active organization may still read one they belong to', async () => {
    const { acme, globex } = demo();
    const token = h.emulator.mintToken({
      userId: acme.memberUserIds[2] as string,
      orgId: globex.organizationId,
    });
    const result = await h.query(TeamSize, { token, variables: { id: acme.organizationId } });
    expect(result.errors).toBeUndefined();
  });

  it('a token whose active organization is the one asked for is enough (v1 and v2)', async () => {
    // This user just joined (no webhook has told us: our cache lags), and the session says so.
    const newcomer = h.emulator.store.createUser({
      firstName: 'New',
      lastName: 'Comer',
      emailAddress: 'new@fresh.test',
    });
    const { organizationId: id, tokenFor } = seedTeam(h.emulator, {
      name: 'Fresh Join Co',
      admins: 0,
      members: 1,
      join: [{ userId: newcomer.id }],
    });
    for (const claimsVersion of [1, 2] as const) {
      const token = tokenFor(newcomer.id, { claimsVersion, orgRole: 'org:member' });
      const result = await h.query(TeamSize, { token, variables: { id } });
      expect(result.data?.organization.members.totalCount).toBe(2);
    }
  });

  it('a non-member and an unknown organization get the same FORBIDDEN', async () => {
    const { acme } = demo();
    const token = h.emulator.mintToken({ userId: demo().outsiderUserId });
    const nonMember = await h.query(TeamSize, { token, variables: { id: acme.organizationId } });
    const unknown = await h.query(TeamSize, { token, variables: { id: 'org_2doesnotexist000000000000' } });
    for (const result of [nonMember, unknown]) {
      expect(result.status).toBe(200);
      expect(result.data).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]).toMatchObject({
        message: FORBIDDEN_MESSAGE,
        extensions: { code: 'FORBIDDEN' },
      });
    }
    expect(JSON.stringify(nonMember.errors)).toBe(JSON.stringify(unknown.errors));
  });

  it('an unknown organization named as the active one is FORBIDDEN too', async () => {
    const ghost = 'org_2ghost0000000000000000000';
    const token = h.emulator.mintToken({ userId: demo().outsiderUserId, orgId: ghost });
    const result = await h.query(TeamSize, { token, variables: { id: ghost } });
    expect(result.errors?.[0]).toMatchObject({
      message: FORBIDDEN_MESSAGE,
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it('401 for organization without a token, before anything is read from Clerk', async () => {
    h.emulator.control.resetCounters();
    const result = await h.query(TeamSize, { variables: { id: demo().acme.organizationId } });
    expectUnauthenticated(result);
    expect(h.emulator.control.counters()['GET /v1/organizations/{id}/memberships'] ?? 0).toBe(0);
  });
});
