/**
 * Clerk-style identifiers (`org_…`, `user_…`: a prefix and 27 base62 characters) and a small seeded PRNG, so
 * that a seeded store produces the same IDs on every run while unseeded IDs stay unique across instances.
 */
import { randomBytes } from 'node:crypto';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Length of the random part of a Clerk ID, as in `user_2g7np7Hrk0SN6kj5EDMLDaKNL0S`. */
export const ID_BODY_LENGTH = 27;

export type IdPrefix =
  | 'org'
  | 'user'
  | 'orgmem'
  | 'orginv'
  | 'sess'
  | 'msg'
  | 'ins'
  | 'idn'
  | 'role'
  | 'perm';

/** A source of uniformly distributed numbers in [0, 1). */
export type Random = () => number;

/** mulberry32: tiny, fast and good enough for fixtures. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cryptographically random numbers in [0, 1), buffered. */
export function cryptoRandom(): Random {
  let buffer = randomBytes(0);
  let offset = 0;
  return () => {
    if (offset + 4 > buffer.length) {
      buffer = randomBytes(4096);
      offset = 0;
    }
    const value = buffer.readUInt32LE(offset);
    offset += 4;
    return value / 4294967296;
  };
}

/** An integer in [0, max). */
export function randomInt(random: Random, max: number): number {
  return Math.floor(random() * max);
}

export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[randomInt(random, items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

const BASE62_CODES = Array.from(BASE62, (c) => c.charCodeAt(0));
const codeBuffer: number[] = [];

export function base62(random: Random, length: number): string {
  codeBuffer.length = length;
  for (let i = 0; i < length; i++) codeBuffer[i] = BASE62_CODES[(random() * 62) | 0] as number;
  return String.fromCharCode.apply(null, codeBuffer);
}

/** Encodes bytes as base62 (big-endian), left-padded or cut to `length`. */
export function base62FromBytes(bytes: Uint8Array, length: number): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = '';
  while (value > 0n && out.length < length) {
    out = BASE62[Number(value % 62n)] + out;
    value /= 62n;
  }
  return out.padStart(length, '0').slice(0, length);
}

/**
 * Makes IDs. A seeded generator is deterministic; `unseed()` switches it to crypto randomness (used after the
 * demo seed, so that runtime-created objects never collide across emulator instances).
 */
export class IdGenerator {
  private random: Random;

  constructor(seed?: number) {
    this.random = seed === undefined ? cryptoRandom() : seededRandom(seed);
  }

  next(prefix: IdPrefix): string {
    // Real Clerk IDs are KSUID-like and start with '2' for the current epoch; keep that look.
    return `${prefix}_2${base62(this.random, ID_BODY_LENGTH - 1)}`;
  }

  unseed(): void {
    this.random = cryptoRandom();
  }
}

/** A random ID that never comes from a seeded generator (sessions, webhook messages, trace IDs). */
const globalIds = new IdGenerator();
export function randomId(prefix: IdPrefix): string {
  return globalIds.next(prefix);
}

export function traceId(): string {
  return randomBytes(16).toString('hex');
}
