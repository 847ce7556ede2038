/**
 * docs/clients.md's recipes, run as written: every ```ts recipe=… block becomes the file its first line names, in a
 * scratch frontend project (this repository's node_modules linked in, schema.graphql copied as the recipe's
 * codegen.ts expects). The recipe's codegen.ts runs (GraphQL Code Generator, client preset), its manifest is what
 * the servers load, and the recipes' own functions talk to the real server and the Clerk emulator: one server with
 * TRUSTED_DOCUMENTS_ONLY (urql, Apollo Client, graphql-sse), one that also takes plain queries (graphql-request).
 * The recipes are type-checked too (tsc, strict). If the docs rot, this fails.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SeededTeam, seedTeam } from './helpers/fixtures.js';
import { type Harness, startHarness } from './helpers/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The recipes of docs/clients.md: label → file (from the block's first line) and code. */
async function recipes(): Promise<Map<string, { file: string; code: string }>> {
  const markdown = await readFile(join(ROOT, 'docs/clients.md'), 'utf8');
  const found = new Map<string, { file: string; code: string }>();
  for (const [, label = '', code = ''] of markdown.matchAll(/^```ts recipe=([\w-]+)\n([\s\S]*?)^```$/gm)) {
    const file = /^\/\/ (\S+\.ts)\n/.exec(code)?.[1];
    if (!file) throw new Error(`recipe ${label} does not begin with // <its file>.ts`);
    found.set(label, { file, code });
  }
  return found;
}

/** Events as they arrive, and a wait for the first (from now on or already there) that matches. */
function eventLog<T>() {
  const events: T[] = [];
  const waiting = new Set<{ matches: (event: T) => boolean; resolve: (event: T) => void }>();
  return {
    events,
    push(event: T) {
      events.push(event);
      for (const waiter of waiting) {
        if (waiter.matches(event)) {
          waiting.delete(waiter);
          waiter.resolve(event);
        }
      }
    },
    next(matches: (event: T) => boolean, from = 0): Promise<T> {
      const seen = events.slice(from).find(matches);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiting.add({ matches, resolve }));
    },
  };
}

// The recipes' modules, loaded from the scratch project (typed loosely here: tsc checks them against their docs).
// biome-ignore lint/suspicious/noExplicitAny: modules compiled from the docs at run time
type Module = Record<string, any>;

describe('docs/clients.md recipes', () => {
  let project = '';
  let trusted: Harness;
  let open: Harness;
  let team: SeededTeam;
  const modules: Record<string, Module> = {};
  let manifest: Record<string, string> = {};

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'client-recipes-'));
    await symlink(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
    await writeFile(join(project, 'schema.graphql'), await readFile(join(ROOT, 'schema.graphql')));
    const found = await recipes();
    for (const { file, code } of found.values()) {
      await mkdir(dirname(join(project, file)), { recursive: true });
      await writeFile(join(project, file), code);
    }
    // The recipe's codegen.ts, run as `npx graphql-codegen` would run it from the project.
    const config = (await import(pathToFileURL(join(project, 'codegen.ts')).href)).default;
    await generate({ ...config, cwd: project, silent: true }, true);
    const manifestPath = join(project, 'src/gql/persisted-documents.json');
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));

    [trusted, open] = await Promise.all([
      startHarness({ config: { trustedDocumentsManifest: manifestPath, trustedDocumentsOnly: true } }),
      // Two changes a minute per user: the RATE_LIMITED recipe meets it.
      startHarness({ config: { trustedDocumentsManifest: manifestPath, writeRateLimitPerMinute: 2 } }),
    ]);
    for (const [label, { file }] of found) {
      if (label === 'codegen') continue;
      modules[label] = await import(pathToFileURL(join(project, file)).href);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([trusted?.close(), open?.close()]);
    if (project) await rm(project, { recursive: true, force: true });
  });

  /** A team in a harness's emulator: one admin (the caller) and two members. */
  function teamIn(h: Harness) {
    team = seedTeam(h.emulator, { admins: 1, members: 2 });
    const getToken = async () => team.admin.token;
    return { team, getToken };
  }

  it('has every recipe the page needs, type-checks them (strict), and its codegen.ts writes the manifest', async () => {
    expect([...(await recipes()).keys()].sort()).toEqual(
      ['apollo', 'codegen', 'documents', 'errors', 'graphql-request', 'graphql-sse', 'urql'].sort(),
    );
    const documents = Object.values(manifest);
    expect(documents.some((document) => document.startsWith('query TeamPage'))).toBe(true);
    expect(documents.some((document) => document.startsWith('subscription TeamChanged'))).toBe(true);
    expect(documents.every((document) => document.includes('__typename'))).toBe(true);
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022', 'DOM'],
          skipLibCheck: true,
          types: [],
        },
        include: ['src/**/*.ts', 'codegen.ts'],
      }),
    );
    await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project],
      {
        cwd: project,
      },
    ).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`the recipes do not type-check:\n${error.stdout ?? error.message}`);
    });
  }, 120_000);

  it('urql: the team page by slug (by hash only), its live updates, an invitation with an Idempotency-Key', async () => {
    const { team, getToken } = teamIn(trusted);
    const urql = modules.urql as Module;
    const client = urql.createTeamClient(trusted.url, getToken);
    const page = await urql.loadTeamPage(client, team.organization.slug);
    expect(page).toMatchObject({ id: team.organizationId, members: { totalCount: 3 } });
    expect(page.viewerPermissions).toContain('org:sys_memberships:manage');

    const live = eventLog<{ reasons: string[]; totalCount: number; emails: string[] }>();
    const stop = urql.watchTeam(client, team.organizationId, live.push);
    await live.next((event) => event.reasons.includes('INITIAL'));

    const key = 'invite-click-1';
    const sent = await urql.inviteMembers(client, team.organizationId, ['new@team.test'], 'org:member', key);
    expect(sent).toMatchObject([
      { email: 'new@team.test', errorCode: null, invitation: { email: 'new@team.test' } },
    ]);
    await live.next((event) => event.reasons.includes('INVITATION_CREATED'));
    // The retry of the same click: replayed, not run again (one invitation, one Clerk write).
    const writes = trusted.emulator.control.requestLog().filter((entry) => entry.method === 'POST').length;
    const again = await urql.inviteMembers(client, team.organizationId, ['new@team.test'], 'org:member', key);
    expect(again).toEqual(sent);
    expect(trusted.emulator.control.requestLog().filter((entry) => entry.method === 'POST').length).toBe(
      writes,
    );
    stop();

    // Another tenant's slug: FORBIDDEN, which the errors recipe words for the page.
    const elsewhere = seedTeam(trusted.emulator, { admins: 1 });
    const refused = await urql
      .loadTeamPage(client, elsewhere.organization.slug)
      .catch((error: unknown) => error);
    expect(refused.extensions.code).toBe('FORBIDDEN');
    expect((modules.errors as Module).describeError(refused)).toBe('You do not have access to this team.');
  });

  it('Apollo Client: the team page, live updates, a role change, and LAST_ADMIN shown by its code', async () => {
    const { team, getToken } = teamIn(trusted);
    const apollo = modules.apollo as Module;
    const client = apollo.createApolloClient(trusted.url, getToken);
    const page = await apollo.loadTeamPage(client, team.organization.slug);
    expect(page.members.members.map((member: { userId: string }) => member.userId)).toContain(
      team.admin.userId,
    );

    const live = eventLog<string[]>();
    const stop = apollo.watchTeam(client, team.organizationId, live.push);
    await live.next((reasons) => reasons.includes('INITIAL'));
    const member = team.memberIds[0] as string;
    expect(await apollo.changeRole(client, team.organizationId, member, 'org:admin')).toBeNull();
    await live.next((reasons) => reasons.includes('MEMBER_UPDATED'));
    stop();

    const sole = seedTeam(trusted.emulator, { admins: 1, members: 1 });
    const soleClient = apollo.createApolloClient(trusted.url, async () => sole.admin.token);
    expect(await apollo.changeRole(soleClient, sole.organizationId, sole.admin.userId, 'org:member')).toBe(
      'A team needs at least one admin: make someone else admin first.',
    );
  });

  it('graphql-request: the team page and an invitation (plain queries); FORBIDDEN and RATE_LIMITED worded by code', async () => {
    const { team, getToken } = teamIn(open);
    const gr = modules['graphql-request'] as Module;
    const client = gr.createRequestClient(open.url, getToken);
    expect((await gr.loadTeamPage(client, team.organization.slug)).members.totalCount).toBe(3);

    const results = await gr.inviteMembers(
      client,
      team.organizationId,
      ['a@team.test', 'b@team.test'],
      'org:member',
    );
    expect(results.map((result: { errorCode: string | null }) => result.errorCode)).toEqual([null, null]);

    const member = team.members[0] as { token: string };
    const memberClient = gr.createRequestClient(open.url, async () => member.token);
    await expect(
      gr.inviteMembers(memberClient, team.organizationId, ['c@team.test'], 'org:member'),
    ).rejects.toThrow('Your role does not allow this.');
    // Two changes a minute on this server: the caller's third is refused, with when to retry.
    await gr.inviteMembers(client, team.organizationId, ['d@team.test'], 'org:member');
    await expect(
      gr.inviteMembers(client, team.organizationId, ['e@team.test'], 'org:member'),
    ).rejects.toThrow(/^Too many changes: try again in \d+ seconds\.$/);
  });

  it('graphql-sse: the live team page by hash; the stream ends with FORBIDDEN when the caller is removed', async () => {
    const { team } = teamIn(trusted);
    const member = team.members[0] as { userId: string; token: string };
    const live = eventLog<{ reasons: string[]; emails: (string | null)[] }>();
    let ended: (error?: unknown) => void = () => {};
    const end = new Promise<unknown>((resolve) => {
      ended = resolve;
    });
    const stop = (modules['graphql-sse'] as Module).watchTeam(
      trusted.url,
      async () => member.token,
      team.organizationId,
      (reasons: string[], emails: (string | null)[]) => live.push({ reasons, emails }),
      ended,
    );
    const initial = await live.next((event) => event.reasons.includes('INITIAL'));
    expect(initial.emails).toHaveLength(3);
    await trusted.clerk.organizations.createOrganizationInvitation({
      organizationId: team.organizationId,
      emailAddress: 'live@team.test',
      role: 'org:member',
      inviterUserId: team.admin.userId,
    });
    await live.next((event) => event.reasons.includes('INVITATION_CREATED'));
    await trusted.clerk.organizations.deleteOrganizationMembership({
      organizationId: team.organizationId,
      userId: member.userId,
    });
    const reason = (await end) as { extensions?: { code?: string } } | undefined;
    expect(reason?.extensions?.code).toBe('FORBIDDEN');
    stop();
  });
});
