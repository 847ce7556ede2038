/**
 * Persisted queries as Apollo Client's PersistedQueryLink and urql's persistedExchange send them
 * (`extensions.persistedQuery.sha256Hash`, GET and POST, the first attempt without the query and the retry with it
 * after PersistedQueryNotFound), against the real server with a trusted-documents manifest: the real client
 * packages, the real wire. Each client's `fetch` only records what it sent (and sends it).
 *
 * The manifest's documents run, also in trusted-only mode; a hash the manifest does not have is
 * PERSISTED_QUERY_NOT_FOUND there, and a query sent along with it never runs (nothing is ever registered).
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Client, fetchExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { type DocumentNode, parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InviteMembers, TeamSize } from './documents.js';
import { type SeededTeam, seedTeam } from './helpers/fixtures.js';
import { type Harness, metricOf, startHarness } from './helpers/harness.js';

const MANIFEST = fileURLToPath(new URL('./gql/persisted-documents.json', import.meta.url));

/** What one request carried, wherever the client put it (query string or body). */
interface Sent {
  method: string;
  query?: string;
  documentId?: string;
  extensions?: { persistedQuery?: { version: number; sha256Hash: string } };
}

/** A `fetch` that records each request's GraphQL parameters, then sends it. */
function recordingFetch() {
  const sent: Sent[] = [];
  const recorder = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.method === 'GET') {
      const search = new URL(request.url).searchParams;
      const extensions = search.get('extensions');
      sent.push({
        method: 'GET',
        ...(search.get('query') ? { query: search.get('query') as string } : {}),
        ...(extensions ? { extensions: JSON.parse(extensions) } : {}),
      });
    } else {
      sent.push({ method: request.method, ...JSON.parse(await request.clone().text()) });
    }
    return fetch(request);
  };
  return { fetch: recorder as typeof fetch, sent };
}

/** The document's hash as codegen's client preset puts it on the document (and keys the manifest by it). */
const codegenHash = (document: DocumentNode) =>
  (document as DocumentNode & { __meta__?: { hash?: string } }).__meta__?.hash as string;
/** The clients' own default: sha256 of the printed document, bare hex. */
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Apollo Client as its docs set it up for trusted documents (the hash codegen wrote), or with its default hash. */
function apollo(url: string, token: string, { get = false, codegen = true } = {}) {
  const recorder = recordingFetch();
  const persisted = new PersistedQueryLink(
    codegen
      ? { generateHash: codegenHash, useGETForHashedQueries: get }
      : { sha256, useGETForHashedQueries: get },
  );
  const client = new ApolloClient({
    link: ApolloLink.from([
      persisted,
      new HttpLink({
        uri: `${url}/graphql`,
        fetch: recorder.fetch,
        headers: { authorization: `Bearer ${token}` },
      }),
    ]),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'no-cache' }, mutate: { fetchPolicy: 'no-cache' } },
  });
  return { client, sent: recorder.sent };
}

/** urql with persistedExchange: as its docs set it up for trusted documents, or with its defaults. */
function urql(url: string, token: string, { trusted = true } = {}) {
  const recorder = recordingFetch();
  const client = new Client({
    url: `${url}/graphql`,
    fetch: recorder.fetch,
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    requestPolicy: 'network-only',
    exchanges: [
      persistedExchange(
        trusted
          ? {
              enforcePersistedQueries: true,
              enableForMutation: true,
              generateHash: async (_query, document) => codegenHash(document as DocumentNode),
            }
          : { enableForMutation: true },
      ),
      fetchExchange,
    ],
  });
  return { client, sent: recorder.sent };
}

/** The first GraphQL error's code, from whatever an Apollo call threw. */
function apolloCode(error: unknown): unknown {
  const errors = (error as { errors?: { extensions?: { code?: unknown } }[] }).errors;
  return errors?.[0]?.extensions?.code;
}

/** Not in the manifest: a mutation an attacker would like to run. */
const ROGUE = parse(`
  mutation Rogue($organizationId: ID!) {
    inviteMembers(organizationId: $organizationId, invitations: [{ email: "rogue@evil.test", role: "org:member" }]) {
      results { email errorCode }
    }
  }
`) as TypedDocumentNode<unknown, { organizationId: string }>;
/** Not in the manifest: a harmless query. */
const NOT_LISTED = parse('query NotListed { viewer { userId } }') as TypedDocumentNode<
  { viewer: { userId: string } },
  Record<string, never>
>;

function useServer(only: boolean) {
  const state = {} as { h: Harness; team: SeededTeam };
  beforeAll(async () => {
    state.h = await startHarness({
      config: { trustedDocumentsManifest: MANIFEST, trustedDocumentsOnly: only },
    });
    state.team = seedTeam(state.h.emulator, { admins: 1, members: 2 });
  }, 30_000);
  afterAll(async () => {
    await state.h?.close();
  });
  return state;
}

/** Clerk writes the server made for the organization so far. */
const writesTo = (h: Harness, organizationId: string) =>
  h.emulator.control
    .requestLog()
    .filter((entry) => entry.method !== 'GET' && entry.path.includes(organizationId)).length;

describe('persisted queries, trusted documents only', () => {
  const s = useServer(true);

  it('Apollo Client runs a manifest query by hash (POST, then GET), without ever sending the query', async () => {
    for (const get of [false, true]) {
      const { client, sent } = apollo(s.h.url, s.team.admin.token, { get });
      const { data } = await client.query({ query: TeamSize, variables: { id: s.team.organizationId } });
      expect(data?.organization.members.totalCount).toBe(3);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({
        method: get ? 'GET' : 'POST',
        extensions: { persistedQuery: { version: 1, sha256Hash: codegenHash(TeamSize) } },
      });
      expect(sent[0]?.query).toBeUndefined();
    }
  });

  it('Apollo Client runs a manifest mutation by hash, by POST even when queries go by GET', async () => {
    const { client, sent } = apollo(s.h.url, s.team.admin.token, { get: true });
    const { data } = await client.mutate({
      mutation: InviteMembers,
      variables: {
        organizationId: s.team.organizationId,
        invitations: [{ email: 'apollo@team.test', role: 'org:member' }],
      },
    });
    expect(data?.inviteMembers.results).toMatchObject([{ email: 'apollo@team.test', errorCode: null }]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'POST', extensions: { persistedQuery: { version: 1 } } });
    expect(sent[0]?.query).toBeUndefined();
  });

  it('urql runs a manifest query (GET) and mutation (POST) by hash', async () => {
    const { client, sent } = urql(s.h.url, s.team.admin.token);
    const queried = await client.query(TeamSize, { id: s.team.organizationId }).toPromise();
    expect(queried.error).toBeUndefined();
    expect(queried.data?.organization.members.totalCount).toBeGreaterThanOrEqual(3);
    const mutated = await client
      .mutation(InviteMembers, {
        organizationId: s.team.organizationId,
        invitations: [{ email: 'urql@team.test', role: 'org:member' }],
      })
      .toPromise();
    expect(mutated.error).toBeUndefined();
    expect(mutated.data?.inviteMembers.results).toMatchObject([{ email: 'urql@team.test', errorCode: null }]);
    expect(sent.map((request) => [request.method, request.query])).toEqual([
      ['GET', undefined],
      ['POST', undefined],
    ]);
  });

  it('a hash the manifest lacks is PERSISTED_QUERY_NOT_FOUND, and the query the retry sends along never runs', async () => {
    const writes = writesTo(s.h, s.team.organizationId);
    // Apollo: the hash, then (told PersistedQueryNotFound) the hash with the query; refused both times.
    const a = apollo(s.h.url, s.team.admin.token, { codegen: false });
    const refused = await a.client
      .mutate({ mutation: ROGUE, variables: { organizationId: s.team.organizationId } })
      .catch((error: unknown) => error);
    expect(apolloCode(refused)).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(a.sent.map((request) => request.query !== undefined)).toEqual([false, true]);
    // Apollo's own hash (of the document as it prints it), which no manifest entry has.
    expect(a.sent[1]?.extensions?.persistedQuery?.sha256Hash).toMatch(/^[0-9a-f]{64}$/);
    // urql with its defaults (no enforcePersistedQueries): the same two attempts.
    const u = urql(s.h.url, s.team.admin.token, { trusted: false });
    const answer = await u.client.mutation(ROGUE, { organizationId: s.team.organizationId }).toPromise();
    expect(answer.error?.graphQLErrors[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(u.sent.map((request) => request.query !== undefined)).toEqual([false, true]);
    // Neither attempt reached Clerk, and the hash is still unknown (nothing was registered).
    expect(writesTo(s.h, s.team.organizationId)).toBe(writes);
    const again = await a.client
      .mutate({ mutation: ROGUE, variables: { organizationId: s.team.organizationId } })
      .catch((error: unknown) => error);
    expect(apolloCode(again)).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(writesTo(s.h, s.team.organizationId)).toBe(writes);
  });

  it("a manifest hash sent with another query runs the manifest's document, never the query", async () => {
    const writes = writesTo(s.h, s.team.organizationId);
    const response = await fetch(`${s.h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.team.admin.token}` },
      body: JSON.stringify({
        query: print(ROGUE),
        variables: { id: s.team.organizationId, organizationId: s.team.organizationId },
        extensions: { persistedQuery: { version: 1, sha256Hash: codegenHash(TeamSize) } },
      }),
    });
    const body = (await response.json()) as { data?: Record<string, unknown> };
    expect(Object.keys(body.data ?? {})).toEqual(['organization']);
    expect(writesTo(s.h, s.team.organizationId)).toBe(writes);
  });

  it('refuses a malformed persistedQuery, and a documentId that names another document, with BAD_REQUEST', async () => {
    const post = async (body: unknown) => {
      const response = await fetch(`${s.h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.team.admin.token}` },
        body: JSON.stringify(body),
      });
      const json = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      return [response.status, json.errors?.[0]?.extensions?.code];
    };
    const hash = codegenHash(TeamSize).slice('sha256:'.length);
    for (const persistedQuery of [
      { version: 2, sha256Hash: hash },
      { version: 1 },
      { version: 1, sha256Hash: 42 },
      'sha',
      [hash],
    ]) {
      expect(await post({ extensions: { persistedQuery } }), JSON.stringify(persistedQuery)).toEqual([
        400,
        'BAD_REQUEST',
      ]);
    }
    expect(
      await post({
        documentId: codegenHash(InviteMembers),
        extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
      }),
    ).toEqual([400, 'BAD_REQUEST']);
    // Bare hex and codegen's prefixed form name the same document; anything else is simply not found.
    expect(
      await post({
        documentId: codegenHash(TeamSize),
        extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
        variables: { id: s.team.organizationId },
      }),
    ).toEqual([200, undefined]);
    for (const sha256Hash of ['', 'constructor', `md5:${hash}`, hash.toUpperCase()]) {
      expect(await post({ extensions: { persistedQuery: { version: 1, sha256Hash } } }), sha256Hash).toEqual([
        400,
        'PERSISTED_QUERY_NOT_FOUND',
      ]);
    }
  });

  it('the fast path replays a persisted GET like any other request (same answer, counted as a hit)', async () => {
    const { client } = apollo(s.h.url, s.team.admin.token, { get: true });
    const first = await client.query({ query: TeamSize, variables: { id: s.team.organizationId } });
    const hits = await metricOf(s.h.adminUrl, 'prepared_responses_total', { outcome: 'hit' });
    const second = await client.query({ query: TeamSize, variables: { id: s.team.organizationId } });
    expect(second.data).toEqual(first.data);
    expect(await metricOf(s.h.adminUrl, 'prepared_responses_total', { outcome: 'hit' })).toBe(hits + 1);
  });
});

describe('persisted queries, manifest loaded, plain queries allowed', () => {
  const s = useServer(false);

  it('a hash not in the manifest: PersistedQueryNotFound, then the retry with the query runs it as a plain query (and registers nothing)', async () => {
    for (const make of [
      () => {
        const a = apollo(s.h.url, s.team.admin.token, { codegen: false });
        return {
          sent: a.sent,
          run: async () => (await a.client.query({ query: NOT_LISTED })).data?.viewer.userId,
        };
      },
      () => {
        const u = urql(s.h.url, s.team.admin.token, { trusted: false });
        return {
          sent: u.sent,
          run: async () => (await u.client.query(NOT_LISTED, {}).toPromise()).data?.viewer.userId,
        };
      },
    ]) {
      const { sent, run } = make();
      expect(await run()).toBe(s.team.admin.userId);
      expect(sent.map((request) => request.query !== undefined)).toEqual([false, true]);
      // Asked again by hash alone: still not found (the client retries with the query once more).
      expect(await run()).toBe(s.team.admin.userId);
      expect(sent.map((request) => request.query !== undefined)).toEqual([false, true, false, true]);
    }
  });

  it("a manifest hash runs the manifest's document at the first attempt", async () => {
    const u = urql(s.h.url, s.team.admin.token);
    const answer = await u.client.query(TeamSize, { id: s.team.organizationId }).toPromise();
    expect(answer.data?.organization.members.totalCount).toBe(3);
    const a = apollo(s.h.url, s.team.admin.token);
    const { data } = await a.client.query({ query: TeamSize, variables: { id: s.team.organizationId } });
    expect(data?.organization.members.totalCount).toBe(3);
    expect([...u.sent, ...a.sent].map((request) => request.query)).toEqual([undefined, undefined]);
  });
});
