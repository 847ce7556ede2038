/**
 * Clerk sends no webhook when an invitation expires: from its `expires_at` on, our answers stop listing it and its
 * seat is free again, from the cache, also on the fast path (a prepared answer listing it is not replayed past its
 * expiry). The server runs in this process, so its clock is moved with a fake `Date` (timers stay real).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, postSignedWebhook, startHarness } from './helpers/harness.js';

const PAGE = `query Page($id: ID!) { organization(id: $id) {
  seats { pendingInvitations available }
  members(includePending: true) { fromCache pendingInvitations { id expiresAt } }
} }`;
interface PageData {
  organization: {
    seats: { pendingInvitations: number; available: number | null };
    members: { fromCache: boolean; pendingInvitations: { id: string; expiresAt: string | null }[] };
  };
}

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
}, 30_000);
afterAll(() => harness.close());
afterEach(() => vi.useRealTimers());

async function replays() {
  const metric = await harness.app.metrics.registry.getSingleMetric('prepared_responses_total')?.get();
  return metric?.values.find((value) => value.labels.outcome === 'hit')?.value ?? 0;
}

describe('an invitation past its expires_at', () => {
  it('is no longer listed nor counted, on the fast path too, with no webhook and no Clerk read', async () => {
    const team = seedTeam(harness.emulator, { admins: 1 });
    const org = team.organizationId;
    const ask = () =>
      harness.query<PageData, { id: string }>(PAGE, { token: team.admin.token, variables: { id: org } });
    await ask();
    // An invitation that expires in a minute, as its created webhook describes it.
    const now = Date.now();
    const invitation = {
      object: 'organization_invitation',
      id: 'orginv_expiringsoon1',
      email_address: 'soon@example.test',
      role: 'org:member',
      status: 'pending',
      organization_id: org,
      created_at: now,
      updated_at: now,
      expires_at: now + 60_000,
      public_metadata: {},
    };
    const delivered = await postSignedWebhook(
      harness.url,
      JSON.stringify({ type: 'organizationInvitation.created', object: 'event', data: invitation }),
      { secret: harness.webhookSecret },
    );
    expect(delivered.status).toBe(200);
    const before = await ask();
    expect(before.data?.organization.members.pendingInvitations.map((each) => each.id)).toEqual([
      invitation.id,
    ]);
    // Asked again: replayed by the fast path.
    const hits = await replays();
    expect((await ask()).data).toEqual(before.data);
    expect(await replays()).toBe(hits + 1);

    vi.useFakeTimers({ toFake: ['Date'], now: now + 120_000 });
    const since = now;
    const after = await ask();
    expect(after.data?.organization.members.pendingInvitations).toEqual([]);
    expect(after.data?.organization.seats.pendingInvitations).toBe(0);
    expect(after.data?.organization.members.fromCache).toBe(true);
    const clerkReads = harness.emulator.control
      .requestLog()
      .filter((entry) => entry.at >= since && entry.method === 'GET' && entry.path.includes(org));
    expect(clerkReads).toEqual([]);
  });
});
