/**
 * Preloaded into a server under test (`node --import tsx --import ./bench/lib/loop-stall.ts src/main.ts`, spawned
 * with an IPC channel): answers `{ type: 'loop-stall' }` with the longest event-loop stall since the last such
 * question, then starts over. A 1 ms timer that checks how late it fires: a turn of the loop that ran N ms makes it
 * N ms late, which is what every other request waiting on that process felt.
 */
export type LoopStallRequest = { type: 'loop-stall' };
export type LoopStallAnswer = { type: 'loop-stall'; maxStallMs: number };

let longest = 0;
let expected = performance.now() + 1;
setInterval(() => {
  const now = performance.now();
  longest = Math.max(longest, now - expected);
  expected = now + 1;
}, 1).unref();

process.on('message', (message: unknown) => {
  if ((message as LoopStallRequest | null)?.type !== 'loop-stall') return;
  const answer: LoopStallAnswer = { type: 'loop-stall', maxStallMs: Math.round(longest * 10) / 10 };
  longest = 0;
  process.send?.(answer);
});
