/**
 * Token verification without CLERK_JWT_KEY: the JWKS is read through the upstream policy, kept, and refreshed by
 * unknown key IDs at most once per interval. Unit tests of the key set on a fake clock, then the real server.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createKeySet, type JsonWebKeySet, KeySetUnavailableError } from '../src/auth/jwks.js';
import { type Harness, startHarness } from './helpers/harness.js';

function rsaJwk(kid: string) {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { n, e } = publicKey.export({ format: 'jwk' });
  return { kid, kty: 'RSA', use: 'sig', alg: 'RS256', n, e };
}

describe('key set (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const oldKey = rsaJwk('ins_old');
  const newKey = rsaJwk('ins_new');

  function clerk(initial: JsonWebKeySet) {
    let served = initial;
    let mode: 'answer' | 'fail' | 'hang' = 'answer';
    const reads: string[] = [];
    return {
      reads,
      serve(keys: JsonWebKeySet) {
        served = keys;
      },
      set mode(next: 'answer' | 'fail' | 'hang') {
        mode = next;
      },
      read: ({ priority }: { priority: string }) => {
        reads.push(priority);
        if (mode === 'hang') return new Promise<JsonWebKeySet>(() => {});
        if (mode === 'fail') return Promise.reject(new Error('Clerk is down'));
        return Promise.resolve(served);
      },
    };
  }

  it('unknown key IDs cause at most one read per interval, however many arrive', async () => {
    const fake = clerk({ keys: [oldKey] });
    const keys = createKeySet({ read: fake.read, refreshIntervalMs: 30_000 });
    const deadline = () => Date.now() + 1000;
    expect(await keys.pemFor('ins_old', deadline())).toMatch(/BEGIN PUBLIC KEY/);
    const junk = await Promise.all(
      Array.from({ length: 1000 }, () => keys.pemFor(`ins_${randomBytes(8).toString('hex')}`, deadline())),
    );
    expect(junk.every((pem) => pem === undefined)).toBe(true);
    expect(fake.reads).toHaveLength(1);

    // A rotated key is picked up by the first unknown kid after the interval.
    fake.serve({ keys: [oldKey, newKey] });
    expect(await keys.pemFor('ins_new', deadline())).toBeUndefined();
    vi.setSystemTime(Date.now() + 30_000);
    expect(await keys.pemFor('ins_new', deadline())).toMatch(/BEGIN PUBLIC KEY/);
    expect(fake.reads).toHaveLength(2);
  });

  it('past its TTL a key set keeps serving its keys while it is read again in the background', async () => {
    const fake = clerk({ keys: [oldKey] });
    const keys = createKeySet({ read: fake.read, ttlMs: 3_600_000 });
    await keys.pemFor('ins_old', Date.now() + 1000);
    vi.setSystemTime(Date.now() + 3_600_000);
    fake.mode = 'hang';
    expect(await keys.pemFor('ins_old', Date.now() + 1000)).toMatch(/BEGIN PUBLIC KEY/);
    expect(fake.reads).toEqual(['interactive', 'background']);
  });

  it('a hanging JWKS: the caller gets KeySetUnavailableError at its deadline, the next ones at once', async () => {
    const fake = clerk({ keys: [oldKey] });
    fake.mode = 'hang';
    const keys = createKeySet({ read: fake.read, retryIntervalMs: 1000 });
    const startedAt = Date.now();
    const first = keys.pemFor('ins_old', startedAt + 500);
    const assertion = expect(first).rejects.toBeInstanceOf(KeySetUnavailableError);
    await vi.advanceTimersByTimeAsync(500);
    await assertion;
    // Still loading: a newcomer waits for that same read, bounded by its own deadline.
    const second = keys.pemFor('ins_old', Date.now() + 100);
    const secondAssertion = expect(second).rejects.toBeInstanceOf(KeySetUnavailableError);
    await vi.advanceTimersByTimeAsync(100);
    await secondAssertion;
    expect(fake.reads).toHaveLength(1);
  });

  it('a failed read: no key set → unavailable (not a bad token); retried after the retry interval', async () => {
    const fake = clerk({ keys: [oldKey] });
    fake.mode = 'fail';
    const keys = createKeySet({ read: fake.read, retryIntervalMs: 1000, refreshIntervalMs: 30_000 });
    await expect(keys.pemFor('ins_old', Date.now() + 1000)).rejects.toBeInstanceOf(KeySetUnavailableError);
    await expect(keys.pemFor('ins_old', Date.now() + 1000)).rejects.toBeInstanceOf(KeySetUnavailableError);
    expect(fake.reads).toHaveLength(1);
    fake.mode = 'answer';
    vi.setSystemTime(Date.now() + 1000);
    expect(await keys.pemFor('ins_old', Date.now() + 1000)).toMatch(/BEGIN PUBLIC KEY/);

    // With a key set: its keys still work while reads fail; an unknown kid then cannot be judged.
    fake.mode = 'fail';
    vi.setSystemTime(Date.now() + 30_000);
    await expect(keys.pemFor('ins_rotated', Date.now() + 1000)).rejects.toBeInstanceOf(
      KeySetUnavailableError,
    );
    expect(await keys.pemFor('ins_old', Date.now() + 1000)).toMatch(/BEGIN PUBLIC KEY/);
  });
});

describe('the server without CLERK_JWT_KEY', () => {
  const WHO = '{ viewer { userId } }';
  let h: Harness | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await h?.close();
    h = undefined;
  });

  /** A JWT-shaped token with a random kid: decoding it is all the server may do before refusing it. */
  function junkToken() {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const header = encode({ alg: 'RS256', typ: 'JWT', kid: `ins_${randomBytes(12).toString('hex')}` });
    const payload = encode({ sub: 'user_junk', sid: 'sess_junk', iat: now, nbf: now - 5, exp: now + 60 });
    return `${header}.${payload}.${randomBytes(256).toString('base64url')}`;
  }

  it('3,000 tokens with random key IDs: 401 each, a handful of JWKS reads at most; real tokens still work', async () => {
    h = await startHarness({ useJwks: true, emulator: { seed: 'empty' } });
    const harness = h;
    const user = harness.emulator.store.createUser({ emailAddress: 'jwks@x.test' });
    expect(
      (await harness.query(WHO, { token: harness.emulator.mintToken({ userId: user.id }) })).errors,
    ).toBe(undefined);
    const before = harness.emulator.control.counters()['GET /v1/jwks'] ?? 0;
    expect(before).toBe(1);

    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 60; batch++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => harness.query(WHO, { token: junkToken() })),
      );
      for (const result of results) statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 3000 });
    expect((harness.emulator.control.counters()['GET /v1/jwks'] ?? 0) - before).toBeLessThanOrEqual(3);

    const legit = await harness.query(WHO, { token: harness.emulator.mintToken({ userId: user.id }) });
    expect(legit.errors).toBeUndefined();
  }, 60_000);

  it('a hanging JWKS: UPSTREAM_UNAVAILABLE within the deadline (not 401); tokens verify once it answers', async () => {
    const timeoutMs = 300;
    const requestDeadlineMs = timeoutMs + 1000;
    h = await startHarness({
      useJwks: true,
      emulator: { seed: 'empty' },
      config: { clerkTimeoutMs: timeoutMs, requestDeadlineMs },
    });
    const harness = h;
    const user = harness.emulator.store.createUser({ emailAddress: 'hang@x.test' });
    harness.emulator.control.injectFault({ route: 'GET /v1/jwks', kind: 'hang', fraction: 1 });

    const startedAt = performance.now();
    const first = await harness.query(WHO, { token: harness.emulator.mintToken({ userId: user.id }) });
    expect(performance.now() - startedAt).toBeLessThan(requestDeadlineMs);
    expect(first.status).toBe(200);
    expect(first.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');

    // Within the retry interval: no new read, the answer at once.
    const again = await harness.query(WHO, { token: harness.emulator.mintToken({ userId: user.id }) });
    expect(again.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(harness.emulator.control.counters()['GET /v1/jwks']).toBe(1);

    harness.emulator.control.clearFaults();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 1000);
    const recovered = await harness.query(WHO, { token: harness.emulator.mintToken({ userId: user.id }) });
    expect(recovered.data).toEqual({ viewer: { userId: user.id } });
  });
});
