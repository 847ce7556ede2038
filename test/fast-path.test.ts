/**
 * The fast path (src/fast-path/): prepared responses replayed before Yoga, and trusted documents.
 *
 * Differential: the same app serves two ports, its own server (fast path on) and `app.withoutFastPath` (every request
 * through Yoga), over the one cache. Every query of test/documents.ts × authentication case × Accept × GET/POST ×
 * plain query/document ID must get the same status, body and headers (less X-Request-ID and Date) from both, both
 * for the answer Yoga gives when asked to keep it and for the replay after it. Then a property-based run: random
 * Clerk writes (with their webhooks) between requests; each fast-path answer equals what Yoga answers right then.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isClerkAPIResponseError } from '@clerk/backend/errors';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import fc from 'fast-check';
import { type OperationDefinitionNode, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as documents from './documents.js';
import { seedTeam } from './helpers/fixtures.js';
import { type Harness, metricOf, startHarness } from './helpers/harness.js';

const MANIFEST = fileURLToPath(new URL('./gql/persisted-documents.json', import.meta.url));
const ORIGIN = 'https://app.example';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Case {
  method: 'GET' | 'POST';
  /** Plain query text, or the trusted document's ID. */
  form: 'query' | 'documentId';
  document: TypedDocumentNode<unknown, Record<string, unknown>>;
  variables: Record<string, unknown>;
  token: string | null;
  accept: string | undefined;
}

const QUERIES = Object.entries(documents)
  .map(([name, document]) => ({ name, document: document as unknown as Case['document'] }))
  .filter(({ document }) => (document.definitions[0] as OperationDefinitionNode).operation === 'query');

const ACCEPTS = [
  'application/graphql-response+json, application/json',
  'application/json',
  'application/graphql-response+json',
  undefined,
];

const documentIdOf = (document: Case['document']) =>
  (document as unknown as { __meta__: { hash: string } }).__meta__.hash;

/** The variables the operation declares, from a pool. */
function variablesFor(document: Case['document'], pool: Record<string, unknown>) {
  const declared = (document.definitions[0] as OperationDefinitionNode).variableDefinitions ?? [];
  return Object.fromEntries(
    declared.map((definition) => definition.variable.name.value).map((name) => [name, pool[name]]),
  );
}

async function send(base: string, c: Case): Promise<Reply> {
  const headers: Record<string, string> = { origin: ORIGIN };
  if (c.accept) headers.accept = c.accept;
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  const params: Record<string, unknown> =
    c.form === 'query' ? { query: print(c.document) } : { documentId: documentIdOf(c.document) };
  let response: Response;
  if (c.method === 'GET') {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) search.set(name, String(value));
    search.set('variables', JSON.stringify(c.variables));
    response = await fetch(`${base}/graphql?${search}`, { headers });
  } else {
    headers['content-type'] = 'application/json';
    response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...params, variables: c.variables }),
    });
  }
  const replyHeaders: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'x-request-id' && name !== 'date') replyHeaders[name] = value;
  });
  return { status: response.status, headers: replyHeaders, body: await response.text() };
}

describe('fast path: prepared responses and trusted documents', () => {
  let h: Harness;
  let reference: Server;
  let referenceUrl = '';
  let organizationId = '';
  let slug = '';
  let otherOrganizationId = '';
  let member = '';
  let memberId = '';
  let removed = '';
  let outsider = '';
  let expired = '';

  const counted = async (outcome: string) => {
    const metric = await h.app.metrics.registry.getSingleMetric('prepared_responses_total')?.get();
    return metric?.values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
  };

  beforeAll(async () => {
    h = await startHarness({
      config: {
        trustedDocumentsManifest: MANIFEST,
        corsOrigins: [ORIGIN],
        // No refresh-ahead re-reads during a test: the cache changes only by webhooks and requests, so "what Yoga
        // answers right then" is one answer.
        webhookRefreshDebounceMs: 60_000,
      },
    });
    reference = createServer(h.app.withoutFastPath);
    await new Promise<void>((resolve) => reference.listen(0, '127.0.0.1', resolve));
    referenceUrl = `http://127.0.0.1:${(reference.address() as AddressInfo).port}`;

    const team = seedTeam(h.emulator, { name: 'Fast Co', admins: 0, members: 6 });
    organizationId = team.organizationId;
    slug = team.organization.slug;
    const elsewhere = seedTeam(h.emulator, { name: 'Elsewhere' });
    otherOrganizationId = elsewhere.organizationId;
    memberId = team.memberIds[0] as string;
    const removedId = team.memberIds[1] as string;
    await h.clerk.organizations.createOrganizationInvitation({
      organizationId,
      emailAddress: 'pending@fast.test',
      role: 'org:member',
      inviterUserId: memberId,
    });
    member = team.tokenFor(memberId, { sessionId: 'sess_fast' });
    removed = team.tokenFor(removedId);
    outsider = elsewhere.admin.token;
    expired = team.tokenFor(memberId, {
      sessionId: 'sess_fast',
      issuedAtS: Math.floor(Date.now() / 1000) - 7200,
      expiresInS: 60,
    });
    await h.clerk.organizations.deleteOrganizationMembership({ organizationId, userId: removedId });
    await h.emulator.control.webhooksSettled();
  });

  afterAll(async () => {
    reference?.closeAllConnections();
    await new Promise<void>((resolve) => reference?.close(() => resolve()));
    await h?.close();
  });

  it('answers like Yoga for every query × token × Accept × GET/POST × query/documentId, kept and replayed', async () => {
    const pool = {
      id: organizationId,
      slug,
      limit: 20,
      offset: 0,
      includePending: true,
      forceRefresh: false,
    };
    const tokens = { member, removed, outsider, none: null, expired };
    let cases = 0;
    const hitsBefore = await counted('hit');
    for (const { name, document } of QUERIES) {
      for (const [who, token] of Object.entries(tokens)) {
        for (const accept of ACCEPTS) {
          for (const method of ['POST', 'GET'] as const) {
            for (const form of ['query', 'documentId'] as const) {
              const c: Case = {
                method,
                form,
                document,
                variables: variablesFor(document, pool),
                token,
                accept,
              };
              const what = `${name} ${who} ${method} ${form} accept=${accept}`;
              await send(referenceUrl, c); // cold reads happen here: the rest sees a warm cache
              const yoga = await send(referenceUrl, c);
              const kept = await send(h.url, c); // through Yoga, kept if it may be
              expect(kept, what).toEqual(yoga);
              const replayed = await send(h.url, c);
              expect(replayed, what).toEqual(await send(referenceUrl, c));
              cases++;
            }
          }
        }
      }
    }
    expect(cases).toBe(QUERIES.length * 5 * ACCEPTS.length * 4);
    // Replays did happen (the member's answers): the comparison above covered the fast path, not only Yoga.
    expect((await counted('hit')) - hitsBefore).toBeGreaterThanOrEqual(QUERIES.length * ACCEPTS.length * 4);
  });

  it('replays only answers that say fromCache: true, and never a forceRefresh answer', async () => {
    const variables = { id: organizationId, forceRefresh: true };
    const c: Case = {
      method: 'POST',
      form: 'query',
      document: documents.Roster as never,
      variables,
      token: member,
      accept: undefined,
    };
    const hits = await counted('hit');
    for (let i = 0; i < 3; i++) await send(h.url, c);
    expect(await counted('hit')).toBe(hits);

    // A new organization: the first answer is a cold read (fromCache false), never replayed; the next ones are.
    const { organizationId: id, admin } = seedTeam(h.emulator, {
      name: 'Cold Co',
      admins: 2,
      tokens: { expiresInS: 600 },
    });
    const token = admin.token;
    const page: Case = {
      ...c,
      document: documents.Page as never,
      variables: { id, limit: 5 },
      token,
    };
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(JSON.parse((await send(h.url, page)).body));
    expect(answers.map((answer) => answer.data.organization.members.fromCache)).toEqual([false, true, true]);
    expect(await counted('hit')).toBe(hits + 1);

    // The roster is warm now, the invitations are not: the first answer with them says fromCache false, once.
    const withPending: Case = {
      ...page,
      document: documents.TeamPage as never,
      variables: { id, limit: 5, includePending: true },
    };
    const flags = [];
    for (let i = 0; i < 3; i++)
      flags.push(JSON.parse((await send(h.url, withPending)).body).data.organization.members.fromCache);
    expect(flags).toEqual([false, true, true]);
  });

  it('a malformed Authorization header is answered by Yoga, like without the fast path', async () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'Bearer not-a-jwt']) {
      const request = (base: string) =>
        fetch(`${base}/graphql`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ query: print(documents.WhoAmI) }),
        }).then(async (response) => ({ status: response.status, body: await response.text() }));
      expect(await request(h.url), authorization).toEqual(await request(referenceUrl));
    }
  });

  it('a replay counts the same team-cache reads as the answer through Yoga (same metrics)', async () => {
    const reads = async () => {
      const metric = await h.app.metrics.registry.getSingleMetric('team_cache_reads_total')?.get();
      return Object.fromEntries(
        (metric?.values ?? []).map((value) => [`${value.labels.part}:${value.labels.outcome}`, value.value]),
      );
    };
    const delta = (after: Record<string, number>, before: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(after)
          .map(([key, value]) => [key, value - (before[key] ?? 0)])
          .filter(([, value]) => value !== 0),
      );
    for (const document of [documents.TeamPage, documents.MyOrganizations, documents.OrganizationCard]) {
      const c: Case = {
        method: 'POST',
        form: 'documentId',
        document: document as never,
        variables: variablesFor(document as never, { id: organizationId, limit: 20, includePending: true }),
        token: member,
        accept: undefined,
      };
      await send(h.url, c);
      await send(h.url, c); // kept
      const hits = await counted('hit');
      const beforeYoga = await reads();
      await send(referenceUrl, c);
      const throughYoga = delta(await reads(), beforeYoga);
      const beforeReplay = await reads();
      await send(h.url, c);
      expect(await counted('hit')).toBe(hits + 1);
      expect(delta(await reads(), beforeReplay)).toEqual(throughYoga);
    }
  });

  it('never replays an error: a FORBIDDEN or UNAUTHENTICATED answer goes through Yoga every time', async () => {
    const hits = await counted('hit');
    for (const token of [outsider, null, expired]) {
      const c: Case = {
        method: 'POST',
        form: 'query',
        document: documents.TeamSize as never,
        variables: { id: organizationId },
        token,
        accept: undefined,
      };
      for (let i = 0; i < 3; i++) expect(JSON.parse((await send(h.url, c)).body).errors).toHaveLength(1);
    }
    expect(await counted('hit')).toBe(hits);
  });

  it("a removed member's very next request after the webhook is FORBIDDEN, though a prepared answer exists", async () => {
    const { organizationId: id, members } = seedTeam(h.emulator, {
      name: 'Leaving Co',
      admins: 0,
      members: 3,
      tokens: { expiresInS: 600 },
    });
    const leaving = members[1];
    const token = leaving?.token as string;
    const c: Case = {
      method: 'POST',
      form: 'documentId',
      document: documents.TeamPage as never,
      variables: { id, limit: 20 },
      token,
      accept: undefined,
    };
    await send(h.url, c);
    await send(h.url, c);
    const hits = await counted('hit');
    expect(JSON.parse((await send(h.url, c)).body).data.organization.members.fromCache).toBe(true);
    expect(await counted('hit')).toBe(hits + 1); // the prepared answer exists and is used

    await h.clerk.organizations.deleteOrganizationMembership({
      organizationId: id,
      userId: leaving?.userId as string,
    });
    await h.emulator.control.webhooksSettled();
    const after = JSON.parse((await send(h.url, c)).body);
    expect(after.data?.organization ?? null).toBeNull();
    expect(after.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('an expired token for the same session is refused even though its viewer has a prepared answer', async () => {
    const c: Case = {
      method: 'POST',
      form: 'query',
      document: documents.WhoAmI as never,
      variables: {},
      token: member,
      accept: undefined,
    };
    await send(h.url, c);
    const hits = await counted('hit');
    expect((await send(h.url, c)).status).toBe(200);
    expect(await counted('hit')).toBe(hits + 1);
    const refused = await send(h.url, { ...c, token: expired });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('property: with random Clerk writes and webhooks between requests, every answer equals what Yoga gives then', async () => {
    const writes = {
      rename: async (n: number) => {
        const roster = await h.clerk.organizations.getOrganizationMembershipList({
          organizationId,
          limit: 100,
        });
        const user = roster.data[n % roster.data.length]?.publicUserData?.userId;
        if (user) await h.clerk.users.updateUser(user, { firstName: `Name${n}` });
      },
      invite: async (n: number) => {
        await h.clerk.organizations.createOrganizationInvitation({
          organizationId,
          emailAddress: `invitee${n}-${Date.now()}@fast.test`,
          role: 'org:member',
          inviterUserId: memberId,
        });
      },
      join: async (n: number) => {
        const [user] = h.emulator.store.populate(otherOrganizationId, 1, 'org:member');
        if (user)
          await h.clerk.organizations.createOrganizationMembership({
            organizationId,
            userId: user.userId,
            role: n % 2 ? 'org:admin' : 'org:member',
          });
      },
      role: async (n: number) => {
        const roster = await h.clerk.organizations.getOrganizationMembershipList({
          organizationId,
          limit: 100,
        });
        const user = roster.data.filter((m) => m.publicUserData?.userId !== memberId)[n % 3]?.publicUserData
          ?.userId;
        // Clerk refuses to demote the last admin: a refused write changes nothing, and the property still holds.
        if (user)
          await h.clerk.organizations
            .updateOrganizationMembership({
              organizationId,
              userId: user,
              role: n % 2 ? 'org:admin' : 'org:member',
            })
            .catch((error: unknown) => {
              if (
                !isClerkAPIResponseError(error) ||
                error.errors[0]?.code !== 'organization_minimum_permissions_needed'
              )
                throw error;
            });
      },
    };
    const step = fc.oneof(
      fc.record({
        write: fc.constantFrom(...(Object.keys(writes) as (keyof typeof writes)[])),
        n: fc.nat(50),
      }),
      fc.record({
        query: fc.constantFrom(...QUERIES.map((query) => query.document)),
        method: fc.constantFrom('GET' as const, 'POST' as const),
        form: fc.constantFrom('query' as const, 'documentId' as const),
        accept: fc.constantFrom(...ACCEPTS),
        includePending: fc.boolean(),
        times: fc.integer({ min: 1, max: 3 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 12 }), async (steps) => {
        for (const s of steps) {
          if ('write' in s) {
            await writes[s.write](s.n);
            await h.emulator.control.webhooksSettled();
            continue;
          }
          const pool = {
            id: organizationId,
            slug,
            limit: 50,
            offset: 0,
            includePending: s.includePending,
            forceRefresh: false,
          };
          const c: Case = {
            method: s.method,
            form: s.form,
            document: s.query,
            variables: variablesFor(s.query, pool),
            token: member,
            accept: s.accept,
          };
          // A cold read answers `fromCache: false` once; what we compare is the warm answer right after it.
          await send(referenceUrl, c);
          for (let i = 0; i < s.times; i++) {
            const yoga = await send(referenceUrl, c);
            expect(await send(h.url, c)).toEqual(yoga);
          }
        }
      }),
      { numRuns: 15 },
    );
  }, 120_000);
});

describe('trusted documents only', () => {
  let h: Harness;
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;

  beforeAll(async () => {
    h = await startHarness({ config: { trustedDocumentsManifest: MANIFEST, trustedDocumentsOnly: true } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const post = async (body: unknown, token?: string) => {
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] },
    };
  };

  it('accepts a known document by ID (POST and GET)', async () => {
    const acme = h.emulator.demo?.acme;
    const token = h.emulator.mintToken({
      userId: acme?.adminUserIds[0] as string,
      orgId: acme?.organizationId,
    });
    const id = documentIdOf(documents.TeamSize as never);
    expect(Object.keys(manifest)).toContain(id);
    const posted = await post({ documentId: id, variables: { id: acme?.organizationId } }, token);
    expect(posted.body.errors).toBeUndefined();
    expect(posted.body.data).toMatchObject({ organization: { members: { totalCount: expect.any(Number) } } });
    const search = new URLSearchParams({
      documentId: id,
      variables: JSON.stringify({ id: acme?.organizationId }),
    });
    const got = await fetch(`${h.url}/graphql?${search}`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await got.json()) as { errors?: unknown }).errors).toBeUndefined();
  });

  it('refuses a plain query, even one that is in the manifest, with PERSISTED_QUERY_ONLY', async () => {
    const known = Object.values(manifest)[0] as string;
    for (const query of [known, '{ __typename }']) {
      const refused = await post({ query });
      expect(refused.status).toBe(400);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    }
  });

  it('refuses unknown and malformed document IDs with PERSISTED_QUERY_NOT_FOUND, and a request with neither', async () => {
    for (const documentId of [
      `sha256:${'0'.repeat(64)}`,
      'sha256:xyz',
      'md5:abc',
      '__proto__',
      'constructor',
    ]) {
      const refused = await post({ documentId });
      expect(refused.status, documentId).toBe(400);
      expect(refused.body.errors?.[0]?.extensions?.code, documentId).toBe('PERSISTED_QUERY_NOT_FOUND');
    }
    const neither = await post({ variables: {} });
    expect(neither.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
  });
});

describe('prepared responses: bounded', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: { preparedResponsesMax: 3, corsOrigins: [ORIGIN] } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const metric = (name: string, outcome?: string) => metricOf(h.adminUrl, name, outcome ? { outcome } : {});

  it('keeps at most PREPARED_RESPONSES_MAX, least recently used out first, counted in /metrics', async () => {
    const acme = h.emulator.demo?.acme;
    const token = h.emulator.mintToken({
      userId: acme?.adminUserIds[0] as string,
      orgId: acme?.organizationId,
    });
    const page = (offset: number): Case => ({
      method: 'POST',
      form: 'query',
      document: documents.Page as never,
      variables: { id: acme?.organizationId, limit: 2, offset },
      token,
      accept: undefined,
    });
    await send(h.url, page(0)); // the cold read
    for (let offset = 0; offset < 5; offset++) await send(h.url, page(offset)); // each kept
    expect(await metric('prepared_responses')).toBe(3);
    const hits = await metric('prepared_responses_total', 'hit');
    await send(h.url, page(4)); // still held
    expect(await metric('prepared_responses_total', 'hit')).toBe(hits + 1);
    const misses = await metric('prepared_responses_total', 'miss');
    await send(h.url, page(0)); // pushed out: Yoga answers (and keeps it again)
    expect(await metric('prepared_responses_total', 'miss')).toBe(misses + 1);
    expect(await metric('prepared_responses_total', 'hit')).toBe(hits + 1);
  });

  it("a request from another origin is never answered with the replay kept for the allowed origin (CORS headers are Yoga's)", async () => {
    const acme = h.emulator.demo?.acme;
    const token = h.emulator.mintToken({
      userId: acme?.adminUserIds[0] as string,
      orgId: acme?.organizationId,
    });
    const c: Case = {
      method: 'POST',
      form: 'query',
      document: documents.TeamSize as never,
      variables: { id: acme?.organizationId },
      token,
      accept: undefined,
    };
    for (let i = 0; i < 3; i++) await send(h.url, c);
    const hits = await metric('prepared_responses_total', 'hit');
    const evil = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: {
        origin: 'https://evil.example',
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query: print(c.document), variables: c.variables }),
    });
    expect(evil.status).toBe(200);
    expect(await metric('prepared_responses_total', 'hit')).toBe(hits);
  });
});
