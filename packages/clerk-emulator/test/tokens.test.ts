import { verifyToken } from '@clerk/backend';
import { TokenVerificationError, TokenVerificationErrorReason } from '@clerk/backend/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClerkEmulator, DemoFixture } from '../src/contract.js';
import { startClerkEmulator } from '../src/index.js';
import { startDemoEmulator } from './helpers.js';

let emulator: ClerkEmulator;
let demo: DemoFixture;

beforeAll(async () => {
  ({ emulator, demo } = await startDemoEmulator());
});

afterAll(async () => {
  await emulator?.close();
});

type Claims = Record<string, unknown> & {
  sub: string;
  sid: string;
  iat: number;
  nbf: number;
  exp: number;
  v?: number;
  azp?: string;
  o?: { id: string; rol: string; slg?: string; per?: string; fpm?: string };
};

function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  const part = token.split('.')[index] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const verifyLocal = async (token: string, extra: { authorizedParties?: string[] } = {}) =>
  (await verifyToken(token, { jwtKey: emulator.publicKeyPem, ...extra })) as unknown as Claims;

async function verificationError(promise: Promise<unknown>): Promise<TokenVerificationError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenVerificationError);
    return error as TokenVerificationError;
  }
  throw new Error('expected the token to be rejected');
}

describe('keys', () => {
  it('exposes an RSA SPKI PEM public key and an ins_ kid', () => {
    expect(emulator.publicKeyPem.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
    expect(emulator.publicKeyPem.trim().endsWith('-----END PUBLIC KEY-----')).toBe(true);
    expect(emulator.kid).toMatch(/^ins_/);
    expect(emulator.instanceId).toMatch(/^ins_/);
  });
});

describe('mintToken', () => {
  it('mints an RS256 JWT with the emulator kid and Clerk session claims', async () => {
    const userId = demo.outsiderUserId;
    const token = emulator.mintToken({ userId });
    expect(decodePart(token, 0)).toMatchObject({ alg: 'RS256', kid: emulator.kid, typ: 'JWT' });
    const claims = await verifyLocal(token);
    expect(claims.sub).toBe(userId);
    expect(claims.sid).toMatch(/^sess_/);
    expect(claims.v).toBe(2);
    expect(typeof claims.iss).toBe('string');
    expect(claims.exp - claims.iat).toBe(60);
    expect(claims.nbf).toBe(claims.iat - 5);
    expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(60);
    expect(claims.o).toBeUndefined();
  });

  it('v2 (default): the o claim carries the org id, the role without prefix and the slug', async () => {
    const adminId = demo.acme.adminUserIds[0] ?? '';
    const claims = await verifyLocal(
      emulator.mintToken({ userId: adminId, orgId: demo.acme.organizationId }),
    );
    expect(claims.sub).toBe(adminId);
    expect(claims.o?.id).toBe(demo.acme.organizationId);
    expect(claims.o?.rol).toBe('admin');
    expect(claims.o?.slg).toBe('acme');
    expect(claims.org_id).toBeUndefined();
  });

  it('defaults orgRole to the user’s role in the organization', async () => {
    const memberId = demo.acme.memberUserIds[0] ?? '';
    const claims = await verifyLocal(
      emulator.mintToken({ userId: memberId, orgId: demo.acme.organizationId }),
    );
    expect(claims.o?.rol).toBe('member');
  });

  it('v1: org_id, org_role with prefix, org_slug', async () => {
    const adminId = demo.acme.adminUserIds[1] ?? '';
    const claims = await verifyLocal(
      emulator.mintToken({ userId: adminId, orgId: demo.acme.organizationId, claimsVersion: 1 }),
    );
    expect(claims.org_id).toBe(demo.acme.organizationId);
    expect(claims.org_role).toBe('org:admin');
    expect(claims.org_slug).toBe('acme');
    expect(claims.o).toBeUndefined();
  });

  it('an explicit orgRole and sessionId are used', async () => {
    const claims = await verifyLocal(
      emulator.mintToken({
        userId: demo.outsiderUserId,
        orgId: demo.globex.organizationId,
        orgRole: 'org:billing_manager',
        sessionId: 'sess_fixed123',
      }),
    );
    expect(claims.sid).toBe('sess_fixed123');
    expect(claims.o?.rol).toBe('billing_manager');
  });

  it('verifies through the JWKS endpoint with only the secret key', async () => {
    const token = emulator.mintToken({ userId: demo.outsiderUserId, orgId: demo.acme.organizationId });
    const claims = (await verifyToken(token, {
      secretKey: emulator.secretKey,
      apiUrl: emulator.url,
      skipJwksCache: true,
    })) as unknown as Claims;
    expect(claims.sub).toBe(demo.outsiderUserId);
  });

  it('rejects an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = emulator.mintToken({ userId: demo.outsiderUserId, issuedAtS: now - 600, expiresInS: 30 });
    const claims = decodePart(token, 1);
    expect(claims.exp).toBe(now - 570);
    const err = await verificationError(verifyLocal(token));
    expect(err.reason).toBe(TokenVerificationErrorReason.TokenExpired);
  });

  it('honours a custom lifetime', async () => {
    const claims = await verifyLocal(emulator.mintToken({ userId: demo.outsiderUserId, expiresInS: 3600 }));
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it('checks azp against authorizedParties', async () => {
    const token = emulator.mintToken({ userId: demo.outsiderUserId, azp: 'http://localhost:3000' });
    const claims = await verifyLocal(token, { authorizedParties: ['http://localhost:3000'] });
    expect(claims.azp).toBe('http://localhost:3000');
    const err = await verificationError(
      verifyLocal(token, { authorizedParties: ['https://app.example.test'] }),
    );
    expect(err.reason).toBe(TokenVerificationErrorReason.TokenInvalidAuthorizedParties);
  });

  it('a tampered token fails signature verification', async () => {
    const token = emulator.mintToken({ userId: demo.outsiderUserId });
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...decodePart(token, 1), sub: demo.acme.adminUserIds[0] }),
      'utf8',
    ).toString('base64url');
    await verificationError(verifyLocal(`${header}.${forged}.${signature}`));
  });

  it('a token from another emulator does not verify with this key', async () => {
    const other = await startClerkEmulator({ seed: 'empty' });
    try {
      const foreign = other.mintToken({ userId: 'user_foreign' });
      await verificationError(verifyLocal(foreign));
    } finally {
      await other.close();
    }
  });
});

describe('HTTP control API', () => {
  it('POST /__emulator/tokens returns a verifiable token', async () => {
    const adminId = demo.acme.adminUserIds[0] ?? '';
    const res = await fetch(`${emulator.url}/__emulator/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: adminId, org_id: demo.acme.organizationId }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token?: string };
    expect(typeof body.token).toBe('string');
    const claims = await verifyLocal(body.token ?? '');
    expect(claims.sub).toBe(adminId);
    expect(claims.o?.id).toBe(demo.acme.organizationId);
    expect(claims.o?.rol).toBe('admin');
  });
});
