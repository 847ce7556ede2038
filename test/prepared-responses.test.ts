/** The prepared-response store's bounds: entries and bytes (keys, which hold request bodies, and answers). */
import { describe, expect, it } from 'vitest';
import { createPreparedResponses, type PreparedResponse } from '../src/fast-path/prepared-responses.js';

const answer = (bytes: number): PreparedResponse => ({
  status: 200,
  headers: {},
  body: Buffer.alloc(bytes, 'x'),
  reads: [],
  organizations: [],
});

describe('prepared responses store', () => {
  it('holds at most maxBytes of keys and bodies, least recently used out first', () => {
    const store = createPreparedResponses({ max: 100, maxBytes: 1000 });
    for (const key of ['a', 'b', 'c']) store.set(key, answer(400));
    expect(store.size()).toBe(2);
    expect(store.get('a')).toBeUndefined();
    expect(store.get('c')).toBeDefined();
    // Keys count too: a huge request body cannot hide in the key.
    store.set('k'.repeat(900), answer(10));
    expect(store.size()).toBe(1);
  });

  it('never keeps an answer larger than the whole budget', () => {
    const store = createPreparedResponses({ max: 100, maxBytes: 1000 });
    store.set('small', answer(10));
    store.set('huge', answer(5000));
    expect(store.get('huge')).toBeUndefined();
    expect(store.get('small')).toBeDefined();
  });
});
