/**
 * Property-based fuzzing of the webhook route: whatever arrives, unsigned or signed with the wrong secret, the
 * answer is a 4xx (never a 5xx) and the cache does not change.
 */
import fc from 'fast-check';
import { Webhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

let h: Harness;
let organizationId: string;
let token: string;
beforeAll(async () => {
  // No refresh-ahead within a test's time: the query right after an accepted event must be the one that re-reads
  // (fromCache false), not find a copy a background re-read raced in first.
  h = await startHarness({ emulator: { seed: 'empty' }, config: { webhookRefreshDebounceMs: 60_000 } });
  const team = seedTeam(h.emulator, { name: 'Fuzz Co', admins: 0, members: 2, tokens: { expiresInS: 600 } });
  organizationId = team.organizationId;
  token = team.members[0]?.token as string;
});
afterAll(() => h.close());

const teamQuery = () =>
  h.query(`{ organization(id: "${organizationId}") { members { fromCache totalCount } } }`, { token });

/** A plausible Clerk event for the fuzzed organization, so a wrongly accepted delivery would invalidate it. */
const eventFor = (organizationId: string) =>
  fc.record({
    type: fc.constantFrom(
      'organizationMembership.created',
      'organization.deleted',
      'user.updated',
      'role.created',
    ),
    object: fc.constant('event'),
    data: fc.record({ id: fc.constant(organizationId), organization: fc.constant({ id: organizationId }) }),
  });

const headerValue = fc.oneof(fc.string(), fc.constant(''), fc.stringMatching(/^v1,[A-Za-z0-9+/=]{0,60}$/));

describe('webhook route under fuzzing', () => {
  it('never answers 5xx and never changes the cache', async () => {
    await teamQuery(); // warm
    h.emulator.control.resetCounters();
    const foreign = new Webhook(`whsec_${Buffer.from('a different secret!!').toString('base64')}`);

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          eventFor(organizationId).map((value) => JSON.stringify(value)),
        ),
        fc.record({
          id: headerValue,
          timestamp: fc.oneof(headerValue, fc.integer().map(String)),
          signature: headerValue,
        }),
        fc.boolean(),
        async (body, headers, signWithForeignSecret) => {
          const id = headers.id || 'msg_fuzz';
          const timestamp = signWithForeignSecret ? String(Math.floor(Date.now() / 1000)) : headers.timestamp;
          const signature = signWithForeignSecret
            ? foreign.sign(id, new Date(Number(timestamp) * 1000), body)
            : headers.signature;
          const response = await fetch(`${h.url}/webhooks/clerk`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'svix-id': id,
              'svix-timestamp': timestamp,
              'svix-signature': signature,
            },
            body,
          });
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );

    const after = await teamQuery();
    expect(after.data).toEqual({ organization: { members: { fromCache: true, totalCount: 2 } } });
    expect(h.emulator.control.counters()['GET /v1/organizations/{id}/memberships'] ?? 0).toBe(0);
  });

  it('a correctly signed event still gets through afterwards (the route was not wedged)', async () => {
    const body = JSON.stringify({
      type: 'organizationMembership.updated',
      object: 'event',
      data: { organization: { id: organizationId } },
    });
    const response = await fetch(`${h.url}/webhooks/clerk`, {
      method: 'POST',
      headers: signedHeaders(body),
      body,
    });
    expect(response.status).toBe(200);
    expect((await teamQuery()).data).toMatchObject({ organization: { members: { fromCache: false } } });
  });
});

function signedHeaders(body: string) {
  const id = `msg_${Math.random().toString(36).slice(2)}`;
  const now = new Date();
  return {
    'content-type': 'application/json',
    'svix-id': id,
    'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
    'svix-signature': new Webhook(h.webhookSecret).sign(id, now, body),
  };
}
