/**
 * How long and how big a benchmark run is. `full` makes the committed results, `quick` tries a change, `smoke` only
 * keeps the harness working (test/bench.test.ts): it runs every scenario's code once, in seconds, and its numbers
 * mean nothing. The whole mode is written to latest.json.
 */
export interface Mode {
  name: 'full' | 'quick' | 'smoke';
  /** Warm-up of each steady scenario (1–4, 7), seconds: JIT, connection pools and the cache; not measured. */
  warmupSeconds: number;
  /** Measured period of each steady scenario, seconds. */
  measureSeconds: number;
  /** Scenario 5: organizations read once each in the measured run, each a cache miss. */
  coldOrganizations: number;
  /** Scenario 5: other organizations, read once each in the warm-up (so the warm-up misses too). */
  coldWarmupOrganizations: number;
  coldConnections: number;
  /** Scenario 6: concurrent queries, one connection each, on one cold organization. */
  herdRequests: number;
  /** Scenario 4: members of the deep organization (the page read is its last 20). */
  deepMembers: number;
  /** Scenario 8: organizations the memory probe reads into its cache… */
  memoryOrganizations: number;
  /** …with this many members each… */
  memoryMembersPerOrganization: number;
  /** …this many at a time (also the number of warm-up reads before the baseline). */
  memoryConcurrency: number;
  /** Scenario 9: organization sizes whose cold first page is timed… */
  coldSizes: readonly number[];
  /** …this many organizations of each size (one cold read each, sequential, sizes interleaved). */
  coldSizeSamples: number;
  /** Scenario 10: members of the roster searched under load. */
  searchMembers: number;
}

export const MODES: Record<Mode['name'], Mode> = {
  full: {
    name: 'full',
    warmupSeconds: 5,
    measureSeconds: 15,
    coldOrganizations: 500,
    coldWarmupOrganizations: 30,
    coldConnections: 10,
    herdRequests: 1000,
    deepMembers: 10_000,
    memoryOrganizations: 1000,
    memoryMembersPerOrganization: 100,
    memoryConcurrency: 50,
    coldSizes: [100, 2_500, 10_000, 30_000],
    coldSizeSamples: 7,
    searchMembers: 10_000,
  },
  quick: {
    name: 'quick',
    warmupSeconds: 1,
    measureSeconds: 3,
    coldOrganizations: 60,
    coldWarmupOrganizations: 10,
    coldConnections: 10,
    herdRequests: 1000,
    deepMembers: 10_000,
    memoryOrganizations: 1000,
    memoryMembersPerOrganization: 100,
    memoryConcurrency: 100,
    coldSizes: [100, 2_500, 10_000, 30_000],
    coldSizeSamples: 5,
    searchMembers: 10_000,
  },
  // Each period still runs (a warm-up, a measured run with a churn write or two in it); the deep organization keeps
  // two Clerk pages (the source reads 500 members a page) so that paging is read too.
  smoke: {
    name: 'smoke',
    warmupSeconds: 0.1,
    measureSeconds: 0.2,
    coldOrganizations: 4,
    coldWarmupOrganizations: 1,
    coldConnections: 4,
    herdRequests: 50,
    deepMembers: 1000,
    memoryOrganizations: 4,
    memoryMembersPerOrganization: 10,
    memoryConcurrency: 4,
    coldSizes: [100, 1_000],
    coldSizeSamples: 1,
    searchMembers: 1_000,
  },
};
