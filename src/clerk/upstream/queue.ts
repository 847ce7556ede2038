/**
 * The order in which waiting Clerk calls get the budget: every interactive call before any background one, and
 * within a priority round-robin across callers (each caller with calls waiting gets one turn per round, in the
 * order they first queued), so one caller's hundred calls delay another caller's single call by one turn, not a
 * hundred.
 *
 * A data structure only: no timers, no limits (the upstream policy decides what may enter).
 */

import type { Priority } from '../../team/types.js';

export type { Priority };

export interface QueueItem {
  readonly priority: Priority;
  /** The fairness key; calls without one share a single turn. */
  readonly caller: string | undefined;
}

const PRIORITIES: readonly Priority[] = ['interactive', 'background'];
const ANONYMOUS = '\u0000anonymous';

export class FairQueue<T extends QueueItem> {
  /**
   * Per priority: caller → their waiting calls, oldest first. The map's order is the rotation: the first caller
   * is served next, and moves to the back after its turn.
   */
  private readonly lanes = new Map<Priority, Map<string, T[]>>(PRIORITIES.map((p) => [p, new Map()]));
  private count = 0;

  get size(): number {
    return this.count;
  }

  sizeOf(priority: Priority): number {
    let total = 0;
    for (const calls of this.lane(priority).values()) total += calls.length;
    return total;
  }

  /**
   * How many calls would be served before `item` if it were pushed now: the basis of "can it start before its
   * deadline". Later arrivals from other callers may still be served before it (that is the fairness); the
   * upstream drops a call whose deadline passes while it waits.
   */
  positionIfPushed(item: T): number {
    let position = 0;
    if (item.priority === 'background') position += this.sizeOf('interactive');
    const lane = this.lane(item.priority);
    const key = keyOf(item);
    // Its round: how many calls of its own caller are ahead of it.
    const round = lane.get(key)?.length ?? 0;
    let beforeInRotation = true;
    for (const [caller, calls] of lane) {
      if (caller === key) {
        beforeInRotation = false;
        position += round;
        continue;
      }
      // Every earlier round takes one call of each caller that still has one; in its own round, the callers
      // before it in the rotation go first. A caller new to the lane joins the rotation at the back.
      position += Math.min(calls.length, round) + (beforeInRotation && calls.length > round ? 1 : 0);
    }
    return position;
  }

  push(item: T): void {
    const lane = this.lane(item.priority);
    const key = keyOf(item);
    const calls = lane.get(key);
    if (calls) calls.push(item);
    else lane.set(key, [item]);
    this.count++;
  }

  /** The next call to serve, removed from the queue. */
  shift(): T | undefined {
    for (const priority of PRIORITIES) {
      const lane = this.lane(priority);
      const first = lane.entries().next();
      if (first.done) continue;
      const [caller, calls] = first.value;
      const item = calls.shift() as T;
      lane.delete(caller);
      if (calls.length > 0) lane.set(caller, calls); // to the back of the rotation
      this.count--;
      return item;
    }
    return undefined;
  }

  /** Removes a waiting call (abandoned, or past its deadline); false if it is not waiting. */
  remove(item: T): boolean {
    const lane = this.lane(item.priority);
    const key = keyOf(item);
    const calls = lane.get(key);
    const index = calls?.indexOf(item) ?? -1;
    if (!calls || index < 0) return false;
    calls.splice(index, 1);
    if (calls.length === 0) lane.delete(key);
    this.count--;
    return true;
  }

  /** How many calls wait per key (e.g. per route). */
  countBy(key: (item: T) => string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const lane of this.lanes.values()) {
      for (const calls of lane.values()) {
        for (const item of calls) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** Removes and returns every waiting call that matches. */
  drain(matches: (item: T) => boolean): T[] {
    const drained: T[] = [];
    for (const lane of this.lanes.values()) {
      for (const [caller, calls] of [...lane]) {
        const kept = calls.filter((item) => !matches(item));
        if (kept.length === calls.length) continue;
        drained.push(...calls.filter(matches));
        if (kept.length > 0) lane.set(caller, kept);
        else lane.delete(caller);
      }
    }
    this.count -= drained.length;
    return drained;
  }

  private lane(priority: Priority): Map<string, T[]> {
    return this.lanes.get(priority) as Map<string, T[]>;
  }
}

function keyOf(item: QueueItem): string {
  return item.caller ?? ANONYMOUS;
}
