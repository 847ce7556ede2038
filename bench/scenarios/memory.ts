/**
 * Scenario 8, memory: the memory probe (bench/memory.ts, a process of its own with --expose-gc) reads many rosters
 * into the server's own team cache; the heap growth divided by the members read is what one cached member costs.
 */
import { inPool } from '../lib/emulator.js';
import { forkNode } from '../lib/processes.js';
import type { MemoryRequest, MemoryResult, MemoryToParent } from '../lib/protocol.js';
import { clerkCallsText } from '../lib/rows.js';
import { ROOT } from '../lib/stack.js';
import type { Scenario } from './scenario.js';

export const memory: Scenario = {
  id: 8,
  title: 'memory: heap per cached member',
  key: 'memory',
  async run({ mode, launch, stack: { emu }, log }) {
    const started = Date.now();
    const organizationIds = await inPool(
      Array.from({ length: mode.memoryOrganizations }, (_, i) => i),
      4,
      (i) => emu.createOrganization(`Bench Memory ${i}`, mode.memoryMembersPerOrganization),
    );
    const warmupOrganizationIds = await inPool(
      Array.from({ length: mode.memoryConcurrency }, (_, i) => i),
      4,
      (i) => emu.createOrganization(`Bench Memory Warmup ${i}`, 1),
    );
    log(`memory: ${organizationIds.length} organizations created in ${Date.now() - started} ms`);
    await emu.resetCounters();
    const result = await runMemoryProbe({
      type: 'run',
      entry: launch.entry,
      apiUrl: emu.url,
      secretKey: emu.secretKey,
      warmupOrganizationIds,
      organizationIds,
      concurrency: mode.memoryConcurrency,
    });
    const counters = await emu.counters();
    const heapMiB = (result.heapUsedAfter - result.heapUsedBefore) / 2 ** 20;
    return {
      row: {
        connections: String(mode.memoryConcurrency),
        requestsPerSecond: undefined,
        errors: result.members === mode.memoryOrganizations * mode.memoryMembersPerOrganization ? 0 : 1,
        clerkCalls: clerkCallsText(counters),
        notes:
          `**${result.bytesPerMember.toFixed(0)} B/member**: heap +${heapMiB.toFixed(1)} MiB ` +
          `for ${result.members.toLocaleString('en-US')} members in ${result.organizations.toLocaleString('en-US')} orgs ` +
          `(cache counts ${result.cachedMembers.toLocaleString('en-US')}); read in ${result.readSeconds.toFixed(1)} s; ` +
          `Clerk calls include ${mode.memoryConcurrency} warm-up reads`,
      },
      raw: { result, counters },
      measured: { memory: result },
    };
  },
};

async function runMemoryProbe(request: MemoryRequest): Promise<MemoryResult> {
  const probe = forkNode({
    name: 'memory',
    nodeArgs: ['--expose-gc', '--import', 'tsx'],
    script: 'bench/memory.ts',
    cwd: ROOT,
  });
  try {
    return await new Promise<MemoryResult>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('memory probe did not finish within 240 s')), 240_000);
      probe.process.on('message', (message: MemoryToParent) => {
        clearTimeout(timer);
        if (message.type === 'result') resolve(message.result);
        else reject(new Error(`memory probe: ${message.message}`));
      });
      void probe.exited.then(({ code, signal }) =>
        setTimeout(() => {
          clearTimeout(timer);
          reject(new Error(`memory probe exited (${code ?? signal}) without a result:\n${probe.output()}`));
        }, 500),
      );
      probe.process.send(request);
    });
  } finally {
    await probe.stop(2000);
  }
}
