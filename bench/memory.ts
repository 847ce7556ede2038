/**
 * Scenario 8, in a process of its own (`node --expose-gc --import tsx bench/memory.ts`, forked by bench/run.ts):
 * the server's own team cache (createTeamCache from src/team, createClerkSource + createUpstream from src/clerk, loaded
 * from the same build the server runs: dist/, or src/ with --entry src; a real @clerk/backend client)
 * reads every roster from the emulator; the heap growth after a full GC, divided by the members read, is what one
 * cached member costs.
 *
 * Warm-up reads (as many small organizations as the concurrency, at once) happen before the baseline, so that
 * loaded modules, compiled code and the HTTP connection pool are in both measurements.
 */
import { createClerkClient } from '@clerk/backend';
import type { MemoryRequest, MemoryResult, MemoryToParent } from './lib/protocol.js';

type CacheModule = typeof import('../src/team/cache.js');
type SourceModule = typeof import('../src/clerk/source.js');
type UpstreamModule = typeof import('../src/clerk/upstream.js');

/** The cache and Clerk modules of the build the server runs (dist/), or the sources (src/, through tsx). */
async function teamModules(entry: 'dist' | 'src') {
  const root = new URL(`../${entry}/`, import.meta.url);
  const extension = entry === 'dist' ? 'js' : 'ts';
  const module = (path: string) => new URL(`${path}.${extension}`, root).href;
  const [cache, source, upstream] = await Promise.all([
    import(module('team/cache')) as Promise<CacheModule>,
    import(module('clerk/source')) as Promise<SourceModule>,
    import(module('clerk/upstream')) as Promise<UpstreamModule>,
  ]);
  return {
    createTeamCache: cache.createTeamCache,
    createClerkSource: source.createClerkSource,
    createUpstream: upstream.createUpstream,
  };
}

const gc = (globalThis as { gc?: () => void }).gc;

async function settledHeap(): Promise<number> {
  if (!gc) throw new Error('memory probe needs --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

async function inPool(ids: string[], concurrency: number, work: (id: string) => Promise<unknown>) {
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      if (id !== undefined) await work(id);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ids.length)) }, lane));
}

async function measure(request: MemoryRequest): Promise<MemoryResult> {
  const { createTeamCache, createClerkSource, createUpstream } = await teamModules(request.entry);
  const clerk = createClerkClient({
    secretKey: request.secretKey,
    apiUrl: request.apiUrl,
    telemetry: { disabled: true },
  });
  const upstream = createUpstream({ timeoutMs: 60_000, budget: { requests: 1_000_000, windowMs: 1000 } });
  const cache = createTeamCache({
    source: createClerkSource({ clerk, upstream }),
    ttlMs: 3_600_000,
    maxMembers: 100_000_000,
  });

  // Counted by returning nothing: the probe must not hold rosters itself, only the cache may.
  let members = 0;
  const readOne = async (id: string) => {
    const read = await cache.getRoster(id);
    members += read.value.members.length;
  };

  await inPool(request.warmupOrganizationIds, request.concurrency, readOne);
  const warmupMembers = members;
  members = 0;
  const heapUsedBefore = await settledHeap();

  const startedAt = performance.now();
  await inPool(request.organizationIds, request.concurrency, readOne);
  const readSeconds = (performance.now() - startedAt) / 1000;

  const heapUsedAfter = await settledHeap();
  const cachedMembers = cache.stats().members - warmupMembers;
  return {
    organizations: request.organizationIds.length,
    members,
    cachedMembers,
    heapUsedBefore,
    heapUsedAfter,
    bytesPerMember: members === 0 ? 0 : (heapUsedAfter - heapUsedBefore) / members,
    readSeconds,
  };
}

function send(message: MemoryToParent): Promise<void> {
  return new Promise((resolve) => process.send?.(message, undefined, {}, () => resolve()));
}

process.once('message', (request: MemoryRequest) => {
  void measure(request)
    .then(
      (result) => send({ type: 'result', result }),
      (error: unknown) =>
        send({
          type: 'error',
          message: error instanceof Error ? (error.stack ?? error.message) : String(error),
        }),
    )
    .finally(() => process.disconnect());
});
