/**
 * An immutable map that is another map plus a few changes: what a patched snapshot's `byUserId` is, so one change to
 * a 30,000-member roster does not copy 30,000 entries. Used by ./deltas.ts.
 */
/** A key the overlay removes. */
export const GONE = Symbol('gone');
/** Past this many changes over its base, a patched `byUserId` is copied into a plain Map again. */
const MAX_OVERLAY = 1024;

/**
 * `byUserId` of a patched roster: the previous snapshot's map with this patch's few changes over it, so a change to
 * a 30,000-member roster does not rebuild a 30,000-entry map (several milliseconds each). Immutable like the map it
 * stands for; each patch copies the (bounded) changes, never the base.
 */
export class OverlayMap<K, V> implements ReadonlyMap<K, V> {
  readonly size: number;
  constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly changes: ReadonlyMap<K, V | typeof GONE>,
  ) {
    let size = base.size;
    for (const [key, value] of changes) {
      const inBase = base.has(key);
      if (value === GONE && inBase) size--;
      else if (value !== GONE && !inBase) size++;
    }
    this.size = size;
  }

  /** `map` with `key` set to `value` (or removed): an overlay over the same base, or a plain copy when it grows. */
  static with<K, V>(map: ReadonlyMap<K, V>, key: K, value: V | typeof GONE): ReadonlyMap<K, V> {
    const base = map instanceof OverlayMap ? (map.base as ReadonlyMap<K, V>) : map;
    const changes = new Map(
      map instanceof OverlayMap ? (map.changes as ReadonlyMap<K, V | typeof GONE>) : [],
    );
    changes.set(key, value);
    const overlay = new OverlayMap(base, changes);
    return changes.size > MAX_OVERLAY ? new Map(overlay) : overlay;
  }

  get(key: K): V | undefined {
    const value = this.changes.get(key);
    if (value === GONE) return undefined;
    return value !== undefined ? value : this.base.get(key);
  }
  has(key: K): boolean {
    const value = this.changes.get(key);
    return value === GONE ? false : value !== undefined || this.base.has(key);
  }
  *entries(): MapIterator<[K, V]> {
    for (const [key, value] of this.base) {
      if (!this.changes.has(key)) yield [key, value];
    }
    for (const [key, value] of this.changes) if (value !== GONE) yield [key, value];
  }
  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }
  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}
