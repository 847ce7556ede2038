/**
 * The fast path keeps the core's promises (issue 19), each attack on the real server and emulator:
 * - a prepared answer keeps nothing alive but its key and bytes: the roster snapshot it was built from is collected
 *   once the cache replaced it, though the answer is still held;
 * - one deadline and one verification per request: during a JWKS hang, a request makes one JWKS call, and Yoga
 *   answers from the fast path's verification instead of verifying again;
 * - fairness: one viewer's flood of unique queries evicts only its own prepared answers.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { print } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import * as documents from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, metricOf, startHarness } from './helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const counted = (harness: Harness, outcome: string) =>
  metricOf(harness.adminUrl, 'prepared_responses_total', { outcome });

describe('prepared answers keep nothing of the cache alive', () => {
  it('the roster an answer was built from is collected after the cache replaced it, while the answer is held', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    h = await startHarness({ emulator: { seed: 'empty' } });
    const harness = h;
    const { organizationId, members } = seedTeam(harness.emulator, {
      name: 'Promises 200',
      admins: 0,
      members: 200,
    });
    const view = () =>
      harness.query(documents.TeamPage, {
        token: members[0]?.token,
        variables: { id: organizationId, limit: 20, includePending: true },
      });
    await view(); // cold: not kept
    const stored = await counted(harness, 'stored');
    await view(); // warm: kept, built from the cached roster
    expect(await counted(harness, 'stored')).toBe(stored + 1);

    // Only a weak reference here: the test itself must not keep the snapshot alive.
    // (Not dereferenced until the end: `deref()` keeps its target alive for the rest of the job.)
    const snapshot = (() => new WeakRef(harness.app.cache.peekRoster(organizationId)?.value as object))();
    // The cache replaces the value (a re-read after an invalidation, as the TTL or a webhook would cause).
    harness.app.cache.invalidateOrganization(organizationId);
    const replaced = await harness.app.cache.getRoster(organizationId);
    expect(replaced.fromCache).toBe(false);
    // The prepared answer is still held (nobody asked since: it was never found out of date).
    expect(await metricOf(harness.adminUrl, 'prepared_responses')).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(snapshot.deref()).toBeUndefined();

    // And it is found out of date: the next view is Yoga's, then kept again.
    const retired = await counted(harness, 'retired');
    await view();
    expect(await counted(harness, 'retired')).toBe(retired + 1);
  });
});

describe('one deadline and one verification per request', () => {
  it('JWKS hanging (no CLERK_JWT_KEY): one request makes one JWKS call and gets UPSTREAM_UNAVAILABLE', async () => {
    // As the defaults are (deadline = Clerk's timeout + 1 s): the JWKS read times out before the deadline, and
    // after the key set's retry interval (1 s), so a second verification of the request would read it again.
    h = await startHarness({
      useJwks: true,
      emulator: { seed: 'empty' },
      config: { clerkTimeoutMs: 1200, requestDeadlineMs: 2200 },
    });
    const harness = h;
    const user = harness.emulator.store.createUser({ emailAddress: 'hang@promises.test' });
    harness.emulator.control.injectFault({ route: 'GET /v1/jwks', kind: 'hang', fraction: 1 });
    const refused = await counted(harness, 'refused');
    const misses = await counted(harness, 'miss');

    const answer = await harness.query(documents.WhoAmI, {
      token: harness.emulator.mintToken({ userId: user.id }),
    });
    expect(answer.status).toBe(200);
    expect(answer.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    // One verification: the fast path's. Yoga answered its error without verifying (and reading the JWKS) again.
    expect(harness.emulator.control.counters()['GET /v1/jwks']).toBe(1);
    // The fast path did not look anything up for a request it could not authenticate.
    expect(await counted(harness, 'refused')).toBe(refused);
    expect(await counted(harness, 'miss')).toBe(misses);
  });

  it("an expired or malformed token is refused by Yoga from the fast path's verdict, as without the fast path", async () => {
    h = await startHarness({ emulator: { seed: 'empty' } });
    const harness = h;
    const user = harness.emulator.store.createUser({ emailAddress: 'expired@promises.test' });
    const expired = harness.emulator.mintToken({
      userId: user.id,
      issuedAtS: Math.floor(Date.now() / 1000) - 7200,
      expiresInS: 60,
    });
    for (const authorization of [`Bearer ${expired}`, 'Bearer', 'Basic abc', 'Bearer not-a-jwt']) {
      const response = await fetch(`${harness.url}/graphql`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ query: print(documents.WhoAmI) }),
      });
      expect(response.status, authorization).toBe(401);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]?.extensions.code, authorization).toBe('UNAUTHENTICATED');
    }
  });
});

describe('a share of the prepared answers per viewer', () => {
  it("one member's flood of unique queries leaves the other members' prepared answers in place", async () => {
    h = await startHarness({
      emulator: { seed: 'empty' },
      config: { preparedResponsesMax: 60, preparedResponsesPerViewer: 10 },
    });
    const harness = h;
    const { organizationId, members } = seedTeam(harness.emulator, {
      name: 'Promises 12',
      admins: 0,
      members: 12,
    });
    const [attacker, ...victims] = members.map((member) => member.token) as [string, ...string[]];
    const page = (token: string, limit: number, offset: number) =>
      harness.query(documents.Page, { token, variables: { id: organizationId, limit, offset } });
    await page(attacker, 1, 0); // the cold read
    // Each victim's team page, three ways (kept on the first ask, as the roster is warm).
    for (const victim of victims) for (let offset = 0; offset < 3; offset++) await page(victim, 5, offset);

    let victimHits = 0;
    let victimAsks = 0;
    for (let round = 0; round < 10; round++) {
      // 30 unique queries from one member: every one a miss, every one kept.
      for (let i = 0; i < 30; i++) await page(attacker, 1 + ((round * 30 + i) % 200), 0);
      for (const victim of victims) {
        for (let offset = 0; offset < 3; offset++) {
          const hits = await counted(harness, 'hit');
          await page(victim, 5, offset);
          victimAsks++;
          if ((await counted(harness, 'hit')) === hits + 1) victimHits++;
        }
      }
    }
    expect(victimHits / victimAsks).toBe(1);
    // Its own entries went: the attacker holds its share, no more.
    expect(
      await metricOf(harness.adminUrl, 'prepared_responses_evicted_total', { reason: 'viewer_share' }),
    ).toBeGreaterThan(200);
    expect(
      await metricOf(harness.adminUrl, 'prepared_responses_evicted_total', { reason: 'store_full' }),
    ).toBe(0);
  }, 60_000);
});
