/**
 * Idempotent retries of mutations (issue 21, "Idempotent retries"): the plugin, with the in-process store and with
 * the Redis layer's store shared by two replicas. The mutation is the test's own (test/helpers/idempotent-server.ts)
 * so that what the plugin does with keys is tested on its own: its resolver counts its calls.
 */
import { randomUUID } from 'node:crypto';
import { parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryIdempotencyStore, idempotencyScope } from '../src/actions/idempotency.js';
import { operationFingerprint } from '../src/graphql/plugins/use-idempotency-keys.js';
import { INVITE, idempotentServer, observedStore } from './helpers/idempotent-server.js';
import { redisAvailable } from './helpers/redis.js';
import { type Cluster, startCluster, until } from './helpers/replicas.js';

const memory = () => createMemoryIdempotencyStore({ maxBytes: 16 * 1024 * 1024 });
const key = () => `retry-${randomUUID()}`;
/** What the plugin computes for INVITE with these variables. */
const fingerprint = (variables: Record<string, unknown>) =>
  operationFingerprint(print(parse(INVITE)), undefined, variables);

describe('Idempotency-Key on mutations (in process)', () => {
  it('a retry replays the first answer byte for byte, marked Idempotent-Replayed, and the resolver ran once', async () => {
    const server = idempotentServer(memory());
    const k = key();
    const first = await server.send({ key: k });
    const retry = await server.send({ key: k });
    expect(first.invite).toMatchObject({ id: 'inv_1', attempt: 1 });
    expect(retry.text).toBe(first.text);
    expect(first.replayed).toBeNull();
    expect(retry.replayed).toBe('true');
    expect(server.calls).toHaveLength(1);
  });

  it('without the header, or for another key, the mutation runs each time', async () => {
    const server = idempotentServer(memory());
    await server.send({});
    await server.send({});
    await server.send({ key: key() });
    await server.send({ key: key() });
    expect(server.calls).toHaveLength(4);
  });

  it('concurrent duplicates: one execution, and the duplicate waits and gets the same answer', async () => {
    const store = observedStore(memory());
    const server = idempotentServer(store);
    const k = key();
    const first = server.send({ key: k, behaviour: 'held' });
    await server.held();
    const duplicate = server.send({ key: k, behaviour: 'held' });
    await store.waiting();
    server.release();
    const [a, b] = await Promise.all([first, duplicate]);
    expect(server.calls).toHaveLength(1);
    expect(b.text).toBe(a.text);
    expect(b.replayed).toBe('true');
  });

  it('a duplicate still running past the request deadline: IDEMPOTENCY_KEY_IN_USE, nothing executed', async () => {
    const server = idempotentServer(memory(), { waitMs: 0 });
    const k = key();
    const first = server.send({ key: k, behaviour: 'held' });
    await server.held();
    const duplicate = await server.send({ key: k, behaviour: 'held' });
    expect(duplicate.error?.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(duplicate.body.data).toBeUndefined();
    server.release();
    await first;
    expect(server.calls).toHaveLength(1);
  });

  it('the same key with another body: IDEMPOTENCY_KEY_REUSED, resolver not run', async () => {
    const server = idempotentServer(memory());
    const k = key();
    await server.send({ key: k, email: 'ada@example.com' });
    const other = await server.send({ key: k, email: 'grace@example.com' });
    expect(other.error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(other.body.data).toBeUndefined();
    expect(server.calls).toHaveLength(1);
  });

  it('another user with the same key is independent', async () => {
    const server = idempotentServer(memory());
    const k = key();
    const a = await server.send({ key: k, user: 'user_a' });
    const b = await server.send({ key: k, user: 'user_b' });
    expect(b.replayed).toBeNull();
    expect(b.invite.attempt).toBe(2);
    expect(a.invite.attempt).toBe(1);
    expect(server.calls).toHaveLength(2);
  });

  it('an unknown outcome (Clerk timed out): the retry executes, told to reconcile; the next one replays it', async () => {
    const server = idempotentServer(memory());
    const k = key();
    const timedOut = await server.send({ key: k, behaviour: 'timeout' });
    expect(timedOut.error?.code).toBe('UPSTREAM_UNAVAILABLE');
    const retry = await server.send({ key: k, behaviour: 'timeout' });
    expect(retry.invite).toMatchObject({ attempt: 2, retryOfUnknownOutcome: true });
    const again = await server.send({ key: k, behaviour: 'timeout' });
    expect(again.text).toBe(retry.text);
    expect(again.replayed).toBe('true');
    expect(server.calls.map((call) => call.retryOfUnknownOutcome)).toEqual([false, true]);
  });

  it('an unexpected failure may have come after the write: the retry reconciles too', async () => {
    const server = idempotentServer(memory());
    const k = key();
    const crashed = await server.send({ key: k, behaviour: 'crash' });
    expect(crashed.body.errors?.[0]?.message).toBe('Unexpected error.');
    await server.send({ key: k, behaviour: 'crash' });
    expect(server.calls.map((call) => call.retryOfUnknownOutcome)).toEqual([false, true]);
  });

  it('a coded refusal raised by the mutation field wrote nothing: the key is released, the retry runs afresh', async () => {
    const server = idempotentServer(memory());
    const k = key();
    const refused = await server.send({ key: k, behaviour: 'refuse' });
    expect(refused.error?.code).toBe('FORBIDDEN');
    const again = await server.send({ key: k, behaviour: 'refuse' });
    expect(again.replayed).toBeNull();
    expect(server.calls.map((call) => call.retryOfUnknownOutcome)).toEqual([false, false]);
  });

  it('an answer too large to keep: the key records an unknown outcome, the retry reconciles', async () => {
    const server = idempotentServer(memory(), { maxAnswerBytes: 256 * 1024 });
    const k = key();
    await server.send({ key: k, behaviour: 'big' });
    const retry = await server.send({ key: k, behaviour: 'big' });
    expect(retry.replayed).toBeNull();
    expect(server.calls.map((call) => call.retryOfUnknownOutcome)).toEqual([false, true]);
  });

  it.each([
    ['256 characters', 'k'.repeat(256)],
    ['a non-ASCII character', 'clé'],
    ['an empty value', ''],
  ])('a key of %s: BAD_USER_INPUT, nothing executed', async (_what, bad) => {
    const server = idempotentServer(memory());
    const answer = await server.send({ key: bad });
    expect(answer.error).toMatchObject({
      code: 'BAD_USER_INPUT',
      header: 'Idempotency-Key',
    });
    expect(server.calls).toHaveLength(0);
  });

  it('a key of 255 printable characters is accepted', async () => {
    const server = idempotentServer(memory());
    const answer = await server.send({ key: `${'~'.repeat(253)} x` });
    expect(answer.invite.attempt).toBe(1);
  });

  it('queries ignore the header', async () => {
    const server = idempotentServer(memory());
    const k = key();
    const one = await server.send({ key: k, query: '{ ok }' });
    const two = await server.send({ key: k, query: '{ ok }' });
    expect([one.body, two.body]).toEqual([{ data: { ok: true } }, { data: { ok: true } }]);
    expect(two.replayed).toBeNull();
    // And the key is still free for a mutation.
    expect((await server.send({ key: k })).invite.attempt).toBe(1);
  });

  it('a runner that died holding the key blocks it until its lease lapses, then the next attempt reconciles', async () => {
    let clock = 1_000_000;
    const store = createMemoryIdempotencyStore({ maxBytes: 1024 * 1024, now: () => clock });
    const server = idempotentServer(store, { leaseMs: 5000, waitMs: 0, now: () => clock });
    const k = key();
    // A replica took the key for this very request and died before settling it.
    await store.claim(idempotencyScope('user_a', k), fingerprint({ email: 'ada@example.com' }), 'dead', 5000);
    const blocked = await server.send({ key: k });
    expect(blocked.error?.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    clock += 5001;
    const taken = await server.send({ key: k });
    expect(taken.invite.retryOfUnknownOutcome).toBe(true);
    expect(server.calls).toHaveLength(1);
  });

  it('keeps no more than its byte budget', async () => {
    const store = createMemoryIdempotencyStore({ maxBytes: 64 * 1024 });
    const server = idempotentServer(store);
    const keys = Array.from({ length: 200 }, key);
    for (const k of keys) await server.send({ key: k, email: `${'a'.repeat(900)}@example.com` });
    // The oldest answers were forgotten (a retry runs again), the newest is replayed.
    expect((await server.send({ key: keys.at(-1), email: `${'a'.repeat(900)}@example.com` })).replayed).toBe(
      'true',
    );
    expect(
      (await server.send({ key: keys[0], email: `${'a'.repeat(900)}@example.com` })).replayed,
    ).toBeNull();
  });
});

describe.skipIf(!redisAvailable('idempotency.test.ts'))('Idempotency-Key with Redis (two replicas)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ replicas: 2 });
  }, 30_000);
  afterAll(() => cluster?.close());

  /** The Redis layer's store of replica `index` (the real app's, on its own connections). */
  const storeOf = (index: number) => {
    const shared = cluster.replicas[index]?.app.shared;
    if (!shared) throw new Error('the cluster runs with REDIS_URL');
    return shared.idempotencyStore;
  };

  it("a retry reaching the other replica replays the first one's answer, without executing", async () => {
    const a = idempotentServer(storeOf(0));
    const b = idempotentServer(storeOf(1));
    const k = key();
    const first = await a.send({ key: k });
    const retry = await b.send({ key: k });
    expect(retry.text).toBe(first.text);
    expect(retry.replayed).toBe('true');
    expect([a.calls.length, b.calls.length]).toEqual([1, 0]);
    // And another body with that key, on either replica: refused.
    expect((await b.send({ key: k, email: 'grace@example.com' })).error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('concurrent duplicates on two replicas: one execution, the second waits for it and replays', async () => {
    const a = idempotentServer(storeOf(0));
    const observed = observedStore(storeOf(1));
    const b = idempotentServer(observed);
    const k = key();
    const first = a.send({ key: k, behaviour: 'held' });
    await a.held();
    const duplicate = b.send({ key: k, behaviour: 'held' });
    await observed.waiting();
    a.release();
    const [one, two] = await Promise.all([first, duplicate]);
    expect(two.text).toBe(one.text);
    expect(two.replayed).toBe('true');
    expect([a.calls.length, b.calls.length]).toEqual([1, 0]);
  });

  it('a replica that died holding the key: once its lease lapses another takes it over, told to reconcile', async () => {
    const b = idempotentServer(storeOf(1), { waitMs: 10_000 });
    const k = key();
    // Replica A took the key for this very request (a 300 ms lease) and died before renewing or settling it.
    await storeOf(0).claim(
      idempotencyScope('user_a', k),
      fingerprint({ email: 'ada@example.com' }),
      'dead',
      300,
    );
    const taken = await b.send({ key: k });
    expect(taken.invite.retryOfUnknownOutcome).toBe(true);
    expect(b.calls).toHaveLength(1);
  });

  it('Redis paused (SIGSTOP): the keyed mutation is refused (UPSTREAM_UNAVAILABLE), never run on a guess; it runs once Redis answers', async () => {
    const a = idempotentServer(storeOf(0), { leaseMs: 1000, waitMs: 10_000 });
    const replica = cluster.replicas[0];
    const k = key();
    process.kill(cluster.redis.pid, 'SIGSTOP');
    let paused: Awaited<ReturnType<typeof a.send>>;
    try {
      paused = await a.send({ key: k });
    } finally {
      process.kill(cluster.redis.pid, 'SIGCONT');
    }
    expect(paused.error?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(paused.body.data).toBeUndefined();
    expect(a.calls).toHaveLength(0);
    await until(() => replica?.app.shared?.health().up === true);
    // The claim this replica gave up on was in Redis's socket: Redis ran it on waking, so the key was held by an
    // attempt that never ran. The retry waits out that lease and executes, told to reconcile (the safe side).
    const retry = await a.send({ key: k });
    expect(retry.invite).toMatchObject({ attempt: 1, retryOfUnknownOutcome: true });
    expect(a.calls).toHaveLength(1);
  });
});
