/**
 * Waiters by key, woken by whoever changes what the key names, or after a bounded wait, or by their signal: the
 * in-process half of "wait for the holder to finish" (the cluster single flight's waiters, the idempotency keys'
 * duplicates). A generic primitive at the bottom of the house, as overlay-map.ts is, so both layers share it.
 */
export interface KeyedWaits {
  /** Resolves when `wake(key)` is called or after `maxMs`; rejects with the signal's reason when it aborts. */
  wait(key: string, maxMs: number, signal?: AbortSignal): Promise<void>;
  /** Wakes every waiter of `key` (those waiting right now; later ones wait for the next wake). */
  wake(key: string): void;
}

export function createKeyedWaits(): KeyedWaits {
  const waiting = new Map<string, Set<() => void>>();
  return {
    wait(key, maxMs, signal) {
      return new Promise<void>((resolve, reject) => {
        let wakers = waiting.get(key);
        if (!wakers) {
          wakers = new Set();
          waiting.set(key, wakers);
        }
        const own = wakers;
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', aborted);
          own.delete(woken);
          if (own.size === 0 && waiting.get(key) === own) waiting.delete(key);
        };
        const woken = () => {
          done();
          resolve();
        };
        const aborted = () => {
          done();
          reject(signal?.reason);
        };
        const timer = setTimeout(woken, Math.max(0, maxMs));
        own.add(woken);
        if (signal?.aborted) aborted();
        else signal?.addEventListener('abort', aborted, { once: true });
      });
    },
    wake(key) {
      for (const wake of [...(waiting.get(key) ?? [])]) wake();
    },
  };
}
