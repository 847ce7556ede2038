/**
 * Scenario 7, churn: the cache-hit load on one organization while a member's role changes every 100 ms through the
 * Clerk API; each change reaches the server as a signed webhook and invalidates the roster. Errors must stay zero.
 */
import type { EmulatorClient } from '../lib/emulator.js';
import { HIT_CONNECTIONS, measured, steadyLoad } from '../lib/load.js';
import { checkQuery, teamQuery } from '../lib/queries.js';
import { errorCount, loadRow } from '../lib/rows.js';
import type { Scenario } from './scenario.js';

export const churn: Scenario = {
  id: 7,
  title: 'churn: webhook invalidation every 100 ms',
  key: 'churn',
  async run({ mode, stack, fixtures, load }) {
    const { emu, serverUrl } = stack;
    const churnUserId = await emu.createUser('churn.target@bench.test', 'Churn', 'Target');
    const { organizationId, token } = await fixtures.team('Bench Churn', 50, [[churnUserId, 'org:member']]);
    const body = teamQuery(organizationId);
    await checkQuery(serverUrl, token, body, 'churn');

    const writer = roleWriter(emu, organizationId, churnUserId);
    const run = await measured({ load, stack }, steadyLoad(mode, 'churn', serverUrl, token, body), writer);
    const { result, cacheReads: reads } = run;
    await emu.webhooksSettled();
    // Let the server's debounced refresh-ahead read (250 ms + the read) finish before the next scenario counts calls.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { writes } = writer;
    const deliveries = (await emu.deliveries()).filter(
      (d) => d.at >= writer.startedAt && d.url.startsWith(serverUrl),
    );
    const delivered = deliveries.filter((d) => d.status !== null && d.status >= 200 && d.status < 300).length;
    const hits = reads['members:hit'] ?? 0;
    const roster = Object.entries(reads)
      .filter(([key]) => key.startsWith('members:'))
      .reduce((sum, [, n]) => sum + n, 0);
    const sampled = result.fromCacheTrue + result.fromCacheFalse;
    return {
      row: loadRow(HIT_CONNECTIONS, result, run.counters, [
        `hit ratio ${sampled ? ((100 * result.fromCacheTrue) / sampled).toFixed(1) : '–'} % of responses fromCache ` +
          `(cache metrics: ${roster ? ((100 * hits) / roster).toFixed(1) : '–'} % of roster reads hit)`,
        `${writes.ok}/${writes.sent} role writes, ${delivered}/${deliveries.length} webhooks accepted`,
        ...(writes.failed ? [`write error: ${writes.firstError.slice(0, 120)}`] : []),
      ]),
      raw: { ...run, writes, deliveries: deliveries.length, delivered },
      measured: { churn: { errors: errorCount(result) } },
    };
  },
};

/** Alternates the member's role every 100 ms while started, with at most 8 writes in flight. */
function roleWriter(emu: EmulatorClient, organizationId: string, userId: string) {
  const writes = { sent: 0, ok: 0, failed: 0, inFlight: 0, firstError: '' };
  const pending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  return {
    writes,
    startedAt: 0,
    start() {
      this.startedAt = Date.now();
      timer = setInterval(() => {
        if (writes.inFlight >= 8) return; // bounded: a slow emulator must not pile up writes
        const role = writes.sent % 2 === 0 ? 'org:admin' : 'org:member';
        writes.sent++;
        writes.inFlight++;
        const write = emu
          .updateMembershipRole(organizationId, userId, role)
          .then(
            () => {
              writes.ok++;
            },
            (error: unknown) => {
              writes.failed++;
              writes.firstError ||= String(error);
            },
          )
          .finally(() => {
            writes.inFlight--;
            pending.delete(write);
          });
        pending.add(write);
      }, 100);
    },
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
    },
  };
}
