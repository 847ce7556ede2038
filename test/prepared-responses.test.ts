/**
 * The prepared-response store: its bounds (entries, and bytes as an entry really retains them) and its fairness
 * (a viewer over its share loses its own entries; a full store takes from the viewer holding the most).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  createPreparedResponses,
  type PreparedResponse,
  retainedBytes,
} from '../src/fast-path/prepared-responses.js';

const answer = (bytes: number, extra: Partial<PreparedResponse> = {}): PreparedResponse => ({
  status: 200,
  headers: {},
  body: Buffer.alloc(bytes, 'x'),
  reads: [],
  organizations: [],
  validUntil: Number.POSITIVE_INFINITY,
  ...extra,
});

/** An answer shaped like Yoga's for a team page: its headers, three reads, one organization. */
const teamPage = (n: number): PreparedResponse => ({
  status: 200,
  headers: {
    'content-type': 'application/graphql-response+json; charset=utf-8',
    'content-length': String(800 + n),
    'access-control-allow-origin': 'https://app.example',
    vary: 'Origin',
  },
  body: Buffer.from(JSON.stringify({ data: { n, members: Array.from({ length: 4 }, (_, i) => `m${i}`) } })),
  reads: [
    { kind: 'members', id: `org_${String(n).padStart(24, '0')}`, version: n },
    { kind: 'invitations', id: `org_${String(n).padStart(24, '0')}`, version: n + 1 },
    { kind: 'user_memberships', id: `user_${String(n).padStart(24, '0')}`, version: n + 2 },
  ],
  organizations: [`org_${String(n).padStart(24, '0')}`],
  validUntil: Number.POSITIVE_INFINITY,
});

const teamPageKey = (n: number) =>
  `POST /graphql\napplication/json\napplication/json\nhttps://app.example\nuser_${n}\u0000sess_${n}\u0000org_1\u0000org:member\n` +
  JSON.stringify({
    documentId: `sha256:${'a'.repeat(64)}`,
    variables: { id: `org_${n}`, limit: 20, offset: n },
  });

describe('prepared responses store: bounds', () => {
  it('holds at most maxBytes as retainedBytes counts them (key, body, headers, reads), least recently used out first', () => {
    const size = retainedBytes('a', answer(400));
    const store = createPreparedResponses({ max: 100, maxBytes: 2 * size + 10 });
    for (const key of ['a', 'b', 'c']) store.set(key, answer(400), 'viewer');
    expect(store.size()).toBe(2);
    expect(store.bytes()).toBe(2 * size);
    expect(store.get('a')).toBeUndefined();
    expect(store.get('c')).toBeDefined();
    // Keys count too: a huge request body cannot hide in the key.
    store.set('k'.repeat(size), answer(10), 'viewer');
    expect(store.size()).toBe(1);
    expect(store.get('c')).toBeUndefined();
  });

  it('counts headers and reads, not only the body: an answer of 10 bytes with 200 reads is not "10 bytes"', () => {
    const reads = Array.from({ length: 200 }, (_, i) => ({
      kind: 'members' as const,
      id: `org_${i}`,
      version: i,
    }));
    const headers = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`x-header-${i}`, 'v'.repeat(100)]),
    );
    expect(retainedBytes('k', answer(10, { reads, headers }))).toBeGreaterThan(200 * 80 + 50 * 100);
  });

  it('never keeps an answer larger than the whole budget', () => {
    const store = createPreparedResponses({ max: 100, maxBytes: 5000 });
    store.set('small', answer(10), 'viewer');
    store.set('huge', answer(5000), 'viewer');
    expect(store.get('huge')).toBeUndefined();
    expect(store.get('small')).toBeDefined();
  });

  it('retireAll drops everything and counts a generation; the shares start over', () => {
    const store = createPreparedResponses({ max: 10, maxBytes: 1 << 20, perViewerMax: 2 });
    for (const key of ['a', 'b']) store.set(key, answer(10), 'one');
    store.retireAll();
    expect(store.size()).toBe(0);
    expect(store.bytes()).toBe(0);
    expect(store.generation()).toBe(1);
    for (const key of ['c', 'd']) store.set(key, answer(10), 'one');
    expect(store.size()).toBe(2);
  });

  it('retainedBytes bounds what entries really keep on the heap (measured after full collections)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const settled = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    const count = 5000;
    const store = createPreparedResponses({ max: count, maxBytes: 1 << 30 });
    const before = await settled();
    for (let n = 0; n < count; n++) store.set(teamPageKey(n), teamPage(n), `user_${n % 50}`);
    const after = await settled();
    expect(store.size()).toBe(count);
    const measured = (after - before) / count;
    const counted = store.bytes() / count;
    // Counted from above, and not wildly: the bound is what the heap holds.
    expect(measured).toBeLessThanOrEqual(counted);
    expect(counted).toBeLessThan(measured * 2);
  });
});

describe('prepared responses store: a share per viewer', () => {
  it("one viewer's flood of unique answers evicts only that viewer's entries", () => {
    const store = createPreparedResponses({ max: 1000, maxBytes: 1 << 20, perViewerMax: 10 });
    const victims = Array.from({ length: 20 }, (_, v) => `victim_${v}`);
    for (const victim of victims)
      for (let i = 0; i < 5; i++) store.set(`${victim}/${i}`, answer(100), victim);
    for (let i = 0; i < 10_000; i++) store.set(`attacker/${i}`, answer(100), 'attacker');
    for (const victim of victims)
      for (let i = 0; i < 5; i++) expect(store.get(`${victim}/${i}`), `${victim}/${i}`).toBeDefined();
    expect(store.size()).toBe(20 * 5 + 10);
    // Its own most recent ones are what it keeps.
    expect(store.get('attacker/9999')).toBeDefined();
    expect(store.get('attacker/9989')).toBeUndefined();
  });

  it("a viewer's byte share is its fraction of the bytes: big answers push out its own, not others'", () => {
    const unit = retainedBytes('victim/0', answer(1000));
    // 10 viewers' worth of shares; each share holds 4 such answers.
    const store = createPreparedResponses({ max: 100, maxBytes: 40 * unit, perViewerMax: 10 });
    for (let i = 0; i < 3; i++) store.set(`victim/${i}`, answer(1000), 'victim');
    for (let i = 0; i < 1000; i++) store.set(`big/${i}`, answer(1000), 'attacker');
    for (let i = 0; i < 3; i++) expect(store.get(`victim/${i}`)).toBeDefined();
  });

  it('a full store takes from the viewer holding the most, least recently used first', () => {
    const store = createPreparedResponses({ max: 10, maxBytes: 1 << 20, perViewerMax: 10 });
    for (let i = 0; i < 6; i++) store.set(`heavy/${i}`, answer(10), 'heavy');
    for (let i = 0; i < 3; i++) store.set(`light/${i}`, answer(10), 'light');
    store.set('single', answer(10), 'single');
    store.get('heavy/0'); // used: its least recently used is heavy/1 now
    store.set('newcomer/0', answer(10), 'newcomer');
    store.set('newcomer/1', answer(10), 'newcomer');
    expect(store.size()).toBe(10);
    expect(store.get('heavy/0')).toBeDefined();
    expect(store.get('heavy/1')).toBeUndefined();
    expect(store.get('heavy/2')).toBeUndefined();
    for (const key of ['light/0', 'light/1', 'light/2', 'single', 'newcomer/0', 'newcomer/1'])
      expect(store.get(key), key).toBeDefined();
  });
});
