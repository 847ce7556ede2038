/**
 * The shared Clerk budget's gate alone (src/clerk/upstream/shared-budget.ts), over a fake store: which mode it is in,
 * what it grants in each, and the local share it falls back to. The gate over a real Redis, with real replicas, is
 * test/shared-budget.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSharedBudget,
  type SharedBudget,
  type SharedBudgetStore,
} from '../src/clerk/upstream/shared-budget.js';

/** A store that answers (or fails) as the test says, and records what it was asked. */
function fakeStore(answer: {
  up: boolean;
  replicas: number;
  granted?: number;
  paused?: Map<string, number>;
}) {
  const reserved: number[] = [];
  const store: SharedBudgetStore = {
    async reserve({ wanted }) {
      if (!answer.up) throw new Error('Redis did not answer');
      const granted = Math.min(wanted, answer.granted ?? wanted);
      reserved.push(granted);
      return {
        granted,
        retryInMs: granted < wanted ? 100 : 0,
        starts: granted,
        replicas: answer.replicas,
        paused: answer.paused ?? new Map(),
        giveBack() {},
      };
    },
    async heartbeat() {
      if (!answer.up) throw new Error('Redis did not answer');
      return { replicas: answer.replicas, starts: 0 };
    },
    async pause() {},
    async leave() {},
    ready: () => false,
    onReady: () => () => {},
  };
  return { store, reserved };
}

const waiting = new Map([['memberships', 50]]);

describe('the shared budget gate', () => {
  let budget: SharedBudget | undefined;
  afterEach(async () => {
    await budget?.close();
    budget = undefined;
  });

  it('keeps to its local share (limit ÷ assumed replicas) until the store has answered once', async () => {
    const { store, reserved } = fakeStore({ up: false, replicas: 1 });
    budget = createSharedBudget({ store, requests: 30, windowMs: 10_000, heartbeatMs: 60_000 });
    await budget.heartbeat();
    expect(budget.mode).toBe('local');
    expect(budget.stats()).toEqual({ mode: 'local', replicas: 3, localShare: 10 });
    const grant = await budget.reserve({ wanted: 50, waiting }, Date.now());
    expect(grant.granted).toBe(10);
    expect(grant.retryInMs).toBeGreaterThan(0);
    expect(reserved).toEqual([]);
  });

  it('reserves in the store once it answers, passes its pauses on, and falls back when it fails', async () => {
    const answer = { up: true, replicas: 2, granted: 5, paused: new Map([['invitations', 900]]) };
    const { store, reserved } = fakeStore(answer);
    const modes: string[] = [];
    budget = createSharedBudget({
      store,
      requests: 30,
      windowMs: 10_000,
      heartbeatMs: 60_000,
      onModeChange: (mode) => modes.push(mode),
    });
    await budget.heartbeat();
    expect(budget.mode).toBe('shared');
    const grant = await budget.reserve({ wanted: 8, waiting }, Date.now());
    expect(grant.granted).toBe(5);
    expect(grant.paused?.get('invitations')).toBe(900);
    expect(reserved).toEqual([5]);

    answer.up = false;
    const fallback = await budget.reserve({ wanted: 50, waiting }, Date.now());
    expect(budget.mode).toBe('local');
    // Two live replicas: a share of 15, seeded with this replica's part of the 5 starts last seen (3 of them).
    expect(budget.stats()).toEqual({ mode: 'local', replicas: 2, localShare: 15 });
    expect(fallback.granted).toBe(15 - 3);
    expect(modes).toEqual(['shared', 'local']);
  });
});
