/** The patched roster's `byUserId`: a map plus a few changes behaves exactly like the plain map it stands for. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GONE, OverlayMap } from '../src/team/overlay-map.js';

describe('OverlayMap', () => {
  it('after any sequence of sets and removals, equals a plain Map given the same (and the base is untouched)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(40), fc.option(fc.string(), { nil: undefined })), { maxLength: 1500 }),
        (changes) => {
          const base = new Map(Array.from({ length: 20 }, (_, i) => [i, `v${i}`] as [number, string]));
          const expected = new Map(base);
          let map: ReadonlyMap<number, string> = base;
          for (const [key, value] of changes) {
            map = OverlayMap.with(map, key, value ?? GONE);
            if (value === undefined) expected.delete(key);
            else expected.set(key, value);
          }
          expect(map.size).toBe(expected.size);
          expect(new Map(map)).toEqual(expected);
          for (let key = 0; key <= 40; key++) {
            expect(map.has(key)).toBe(expected.has(key));
            expect(map.get(key)).toBe(expected.get(key));
          }
          expect(base.size).toBe(20);
        },
      ),
      { numRuns: 50 },
    );
  });
});
