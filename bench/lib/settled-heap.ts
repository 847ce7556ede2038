/**
 * Preloaded into a server under test (`node --expose-gc --import tsx --import ./bench/lib/settled-heap.ts
 * src/main.ts`, spawned with an IPC channel): answers `{ type: 'heap' }` with the heap used after full collections.
 * A sampled heap mostly measures garbage V8 has not collected yet (an idle old generation can sit at twice its live
 * size for a minute); after a full collection it is what the process keeps alive, which is what a leak check needs.
 */
export type HeapRequest = { type: 'heap' };
export type HeapAnswer = { type: 'heap'; heapUsed: number };

const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: unknown) => {
  if ((message as HeapRequest | null)?.type !== 'heap') return;
  void (async () => {
    // A few rounds: finalizers and weak references free more on the next one.
    for (let i = 0; gc && i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    process.send?.({
      type: 'heap',
      heapUsed: gc ? process.memoryUsage().heapUsed : Number.NaN,
    } satisfies HeapAnswer);
  })();
});
