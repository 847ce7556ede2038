/**
 * Session tokens: an RSA-2048 key pair, RS256 JWTs signed with node:crypto, and the JWKS that verifies them.
 *
 * Every emulator gets its own key pair; the key id (which Clerk sets to the instance ID, `ins_…`) is derived from
 * the public key, so a JWKS cache keyed by `kid` can never hold a different key under the same id.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  sign,
} from 'node:crypto';
import { promisify } from 'node:util';
import { base62FromBytes, ID_BODY_LENGTH, randomId } from './ids.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM, `-----BEGIN PUBLIC KEY-----`. */
  publicKeyPem: string;
  /** PKCS#8 PEM, for tools that want to mint tokens themselves. */
  privateKeyPem: string;
  jwk: { use: 'sig'; kty: 'RSA'; kid: string; alg: 'RS256'; n: string; e: string };
}

/** The next key, generated ahead of time so that starting an emulator rarely waits for RSA key generation. */
let spare: Promise<SigningKey> | undefined;

async function createSigningKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return signingKeyFrom(privateKey);
}

/**
 * The signing key for a given private key (PKCS#8 PEM or a KeyObject): a development setup keeps one key across
 * restarts so that the tokens it handed out stay valid.
 */
export function signingKeyFrom(privateKeyInput: KeyObject | string): SigningKey {
  const privateKey =
    typeof privateKeyInput === 'string' ? createPrivateKey(privateKeyInput) : privateKeyInput;
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('The emulator signs with an RSA key (RS256).');
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const kid = `ins_2${base62FromBytes(createHash('sha256').update(spki).digest(), ID_BODY_LENGTH - 1)}`;
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    kid,
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwk: { use: 'sig', kty: 'RSA', kid, alg: 'RS256', n: jwk.n ?? '', e: jwk.e ?? 'AQAB' },
  };
}

/** A fresh RSA-2048 signing key for one emulator (keygen takes ~50–150 ms; the next one is pre-generated). */
export function newSigningKey(): Promise<SigningKey> {
  const key = spare ?? createSigningKey();
  spare = createSigningKey();
  // Never let an unused spare's failure surface as an unhandled rejection.
  spare.catch(() => {
    spare = undefined;
  });
  return key;
}

export function jwks(key: SigningKey): { keys: SigningKey['jwk'][] } {
  return { keys: [key.jwk] };
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function signJwt(key: SigningKey, claims: Record<string, unknown>): string {
  const header = { alg: 'RS256', kid: key.kid, typ: 'JWT' };
  const signingInput = `${base64urlJson(header)}.${base64urlJson(claims)}`;
  const signature = sign('sha256', Buffer.from(signingInput), key.privateKey).toString('base64url');
  return `${signingInput}.${signature}`;
}

export interface SessionClaimsInput {
  userId: string;
  issuer: string;
  orgId?: string;
  /** With prefix, e.g. 'org:admin'. */
  orgRole?: string;
  orgSlug?: string;
  claimsVersion?: 1 | 2;
  azp?: string;
  expiresInS?: number;
  issuedAtS?: number;
  sessionId?: string;
}

/** Claims shaped like Clerk's session tokens (v2 with the `o` claim, or v1 with `org_*`). */
export function sessionClaims(input: SessionClaimsInput): Record<string, unknown> {
  const iat = input.issuedAtS ?? Math.floor(Date.now() / 1000);
  const version = input.claimsVersion ?? 2;
  const claims: Record<string, unknown> = {
    azp: input.azp,
    exp: iat + (input.expiresInS ?? 60),
    iat,
    iss: input.issuer,
    nbf: iat - 5,
    sid: input.sessionId ?? randomId('sess'),
    sub: input.userId,
  };
  if (claims.azp === undefined) delete claims.azp;
  const role = input.orgRole ?? 'org:member';
  if (version === 2) {
    claims.v = 2;
    if (input.orgId) {
      claims.o = {
        id: input.orgId,
        rol: role.startsWith('org:') ? role.slice(4) : role,
        slg: input.orgSlug ?? '',
        per: '',
        fpm: '',
      };
    }
  } else if (input.orgId) {
    claims.org_id = input.orgId;
    claims.org_role = role;
    claims.org_slug = input.orgSlug ?? '';
    claims.org_permissions = [];
  }
  return claims;
}
