/**
 * One team action at a time per organization, so the guards' view of it cannot change between the check and the
 * write: two admins cannot demote each other into an organization without one, two invitations cannot take the
 * last seat. In this process a queue per organization; across replicas, a lease in Redis (`OrganizationLease`,
 * src/shared-state/) taken after the local turn. Waiting is bounded by the request's deadline.
 */
import { UpstreamUnavailableError } from '../team/errors.js';
import type { OrganizationLease } from '../team/writer.js';

export type { OrganizationLease };

export interface OrganizationLocks {
  /** Runs `body` alone for `organizationId` (in this process, and under the lease when there is one). */
  run<T>(organizationId: string, deadline: number, body: () => Promise<T>): Promise<T>;
  /** Organizations with an action under way or waiting (for tests and metrics). */
  size(): number;
}

const busy = () =>
  new UpstreamUnavailableError(
    'Another change to this organization is still under way: retry in a moment.',
    undefined,
  );

export function createOrganizationLocks(lease?: OrganizationLease): OrganizationLocks {
  /** The last action queued per organization; removed when it is the last to finish. */
  const tails = new Map<string, Promise<unknown>>();

  async function waitTurn(previous: Promise<unknown> | undefined, deadline: number) {
    if (!previous) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(busy()), Math.max(0, deadline - Date.now()));
    });
    try {
      await Promise.race([previous.catch(() => undefined), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async run(organizationId, deadline, body) {
      const previous = tails.get(organizationId);
      let done!: () => void;
      const mine = new Promise<void>((resolve) => {
        done = resolve;
      });
      // Queued behind the previous one even if this one gives up waiting: the next waits for both.
      const tail = Promise.all([previous?.catch(() => undefined), mine]);
      tails.set(organizationId, tail);
      try {
        await waitTurn(previous, deadline);
        const release = lease ? await lease.acquire(organizationId, deadline) : undefined;
        try {
          return await body();
        } finally {
          await release?.().catch(() => undefined);
        }
      } finally {
        done();
        void tail.then(() => {
          if (tails.get(organizationId) === tail) tails.delete(organizationId);
        });
      }
    },
    size: () => tails.size,
  };
}
