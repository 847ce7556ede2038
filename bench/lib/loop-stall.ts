/**
 * Preloaded into a server under test (`node --import tsx --import ./bench/lib/loop-stall.ts src/main.ts`, spawned
 * with an IPC channel): answers `{ type: 'loop-stall' }` with the longest event-loop stall since the last such
 * question, then starts over. A 1 ms timer checks how late it fires: a turn of the loop that ran N ms makes it N ms
 * late, which is what every other request waiting on that process felt (`maxStallMs`). On a busy machine that also
 * counts time the process waited for a CPU, so it also reports the process's CPU time between two ticks
 * (`maxTurnCpuMs`: the work itself, GC threads included).
 */
export type LoopStallRequest = { type: 'loop-stall' };
export type LoopStallAnswer = { type: 'loop-stall'; maxStallMs: number; maxTurnCpuMs: number };

let longest = 0;
let longestCpu = 0;
let expected = performance.now() + 1;
let cpuBefore = process.cpuUsage();
setInterval(() => {
  const now = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  cpuBefore = process.cpuUsage();
  longest = Math.max(longest, now - expected);
  longestCpu = Math.max(longestCpu, (cpu.user + cpu.system) / 1000);
  expected = now + 1;
}, 1).unref();

const round = (ms: number) => Math.round(ms * 10) / 10;

process.on('message', (message: unknown) => {
  if ((message as LoopStallRequest | null)?.type !== 'loop-stall') return;
  const answer: LoopStallAnswer = {
    type: 'loop-stall',
    maxStallMs: round(longest),
    maxTurnCpuMs: round(longestCpu),
  };
  longest = 0;
  longestCpu = 0;
  process.send?.(answer);
});
