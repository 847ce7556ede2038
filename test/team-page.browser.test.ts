/**
 * The example Team page (examples/team-page, issue 23) in headless Chromium: the zero-config start (`src/dev.ts`),
 * which serves the built page at `/` signed in as the demo admin, and two pages side by side, each in its own
 * browser context (two browsers, as far as the server can tell), with every non-local request blocked. The list
 * shows the demo team and search narrows it; an invitation, a role change and a removal made in page A appear in
 * page B within 2 s, without a reload (the live subscription, over SSE); refusing the last admin shows LAST_ADMIN.
 *
 * The page is built first (Vite), from the sources as they are. Skipped, saying why, when Chromium is not
 * installed (`.ci/run` installs it; CI never skips). docs/team-page.png, the README's screenshot, is written by
 * the first test when it is missing: delete it to take a new one.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ClerkClient, createClerkClient } from '@clerk/backend';
import { generate } from '@graphql-codegen/cli';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import exampleCodegen from '../examples/team-page/codegen.js';
import { startZeroConfig } from './helpers/zero-config.js';

const CHROMIUM = '/usr/bin/chromium';
// CI installs Chromium (.ci/run) and must never skip this test; elsewhere a missing browser skips it, saying why.
const runsInBrowser = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!runsInBrowser) {
  console.warn(`team-page.browser.test.ts: SKIPPED, ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/team-page');
const SCREENSHOT = join(ROOT, 'docs/team-page.png');
const FAILURE_SCREENSHOT = '/tmp/team-page-failure.png';
/** The issue's promise: a change made in one browser shows in another within 2 s. */
const LIVE_WITHIN_MS = 2_000;

/** `npm start` without Clerk keys, on ephemeral ports; resolves once the banner is printed. */
async function startServer() {
  const { child, urls, output } = await startZeroConfig(
    { page: /Team page:\s+(http:\/\/\S+\/)\s/, emulator: /Emulator:\s+(http:\/\/\S+)/ },
    {
      // As in production: the server runs the page's own documents and nothing else.
      TRUSTED_DOCUMENTS_MANIFEST: join(EXAMPLE, 'src/gql/persisted-documents.json'),
      TRUSTED_DOCUMENTS_ONLY: 'true',
    },
  );
  return { child, pageUrl: urls.page, emulatorUrl: urls.emulator, output };
}

describe('the example Team page: generated files', () => {
  it('src/gql/ (typed documents, trusted-documents manifest) matches its operations and schema.graphql', async () => {
    // The example's codegen config, with its paths made absolute (it is written to run in its own folder).
    const inExample = (path: string) => join(EXAMPLE, path);
    const generates = Object.fromEntries(
      Object.entries(exampleCodegen.generates).map(([path, output]) => [inExample(path), output]),
    );
    const outputs = (await generate(
      {
        ...exampleCodegen,
        schema: inExample(exampleCodegen.schema as string),
        documents: (exampleCodegen.documents as string[]).map(inExample),
        generates,
        silent: true,
      },
      false,
    )) as { filename: string; content: string }[];
    expect(outputs.map((output) => output.filename)).toContain(inExample('src/gql/persisted-documents.json'));
    for (const output of outputs) {
      const committed = await readFile(output.filename, 'utf8').catch(() => '<missing>');
      expect(committed, `${output.filename} is out of date: npm run codegen -w examples/team-page`).toBe(
        output.content,
      );
    }
  }, 60_000);
});

describe.skipIf(!runsInBrowser)(
  `the example Team page in headless Chromium${runsInBrowser ? '' : ` (skipped: no ${CHROMIUM})`}`,
  () => {
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    let browser: Browser | undefined;
    let clerk: ClerkClient;
    let acmeId: string;
    /** How long each change took to show in the other page, for the report (not asserted beyond the 2 s). */
    const shownAfterMs: Record<string, number> = {};

    beforeAll(async () => {
      await build({ root: EXAMPLE, logLevel: 'warn' });
      server = await startServer();
      clerk = createClerkClient({
        secretKey: 'sk_test_emulator',
        apiUrl: server.emulatorUrl,
        telemetry: { disabled: true },
      });
      acmeId = (await clerk.organizations.getOrganization({ slug: 'acme' })).id;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    }, 90_000);

    afterAll(async () => {
      if (Object.keys(shownAfterMs).length > 0)
        console.info('team page: shown in page B after', shownAfterMs);
      await browser?.close();
      if (server && server.child.exitCode === null) {
        const exited = new Promise((resolve) => server?.child.once('exit', resolve));
        server.child.kill('SIGTERM');
        await exited;
      }
    });

    /** A page in a browser context of its own, offline but for our server, showing the team. */
    async function openTeamPage(): Promise<{
      page: Page;
      problems: () => string[];
      /** What the page sent to /graphql: each request's body and headers. */
      sent: Array<{ body: Record<string, unknown>; headers: Record<string, string> }>;
      close: () => Promise<void>;
    }> {
      if (!server || !browser) throw new Error('setup failed');
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      const origin = new URL(server.pageUrl).origin;
      const problems: string[] = [];
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
        problems.push(`external request: ${url}`);
        return route.abort();
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      const sent: Array<{ body: Record<string, unknown>; headers: Record<string, string> }> = [];
      page.on('request', (request) => {
        if (request.url() === `${origin}/graphql` && request.method() === 'POST') {
          sent.push({ body: request.postDataJSON(), headers: request.headers() });
        }
      });
      await page.goto(server.pageUrl, { waitUntil: 'load' });
      await page.waitForSelector('[data-testid="member-row"]', { timeout: 20_000 });
      // Set once; a reload would clear it.
      await page.evaluate(() => {
        (window as unknown as { loadedOnce: boolean }).loadedOnce = true;
      });
      return { page, problems: () => problems, sent, close: () => context.close() };
    }

    const notReloaded = (page: Page) =>
      page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce === true);

    /**
     * Runs `wait` (a waitForFunction) with what is left of LIVE_WITHIN_MS since `since`; records how long the change
     * took to show under `label`.
     */
    async function shownWithin(label: string, since: number, wait: (timeout: number) => Promise<unknown>) {
      await wait(Math.max(1, since + LIVE_WITHIN_MS - Date.now()));
      shownAfterMs[label] = Date.now() - since;
    }

    const onFailure = async (page: Page, error: unknown): Promise<never> => {
      await page.screenshot({ path: FAILURE_SCREENSHOT, fullPage: true }).catch(() => undefined);
      throw new Error(
        `${(error as Error).message}\n(screenshot: ${FAILURE_SCREENSHOT})\nserver: ${server?.output().slice(-3000)}`,
      );
    };

    it('shows the demo team (members, invitations, seats), and search narrows it', async () => {
      const memberships = await clerk.organizations.getOrganizationMembershipList({
        organizationId: acmeId,
        limit: 100,
      });
      const invitations = await clerk.organizations.getOrganizationInvitationList({
        organizationId: acmeId,
        status: ['pending'],
      });
      const a = await openTeamPage();
      try {
        const rows = a.page.locator('[data-testid="member-row"]');
        await expect.poll(() => rows.count()).toBe(memberships.totalCount);
        const shownIds = await rows.evaluateAll((elements) => elements.map((row) => row.dataset.userId));
        expect(new Set(shownIds)).toEqual(new Set(memberships.data.map((m) => m.publicUserData?.userId)));
        const invitationRows = a.page.locator('[data-testid="invitation-row"]');
        expect(await invitationRows.count()).toBe(invitations.totalCount);
        expect(await a.page.getByTestId('seats').textContent()).toContain(
          `${memberships.totalCount} members · ${invitations.totalCount} pending invitations`,
        );
        if (!existsSync(SCREENSHOT)) await a.page.screenshot({ path: SCREENSHOT, fullPage: true });

        // Search narrows the list, on the server (the member's name and email).
        await a.page.getByTestId('search').fill('patel');
        await expect.poll(() => rows.count()).toBe(1);
        expect(await rows.first().textContent()).toContain('Priya Patel');
        await a.page.getByTestId('search').fill('acme.test');
        await expect.poll(() => rows.count()).toBe(memberships.totalCount);
        await a.page.getByTestId('search').fill('nobody-has-this');
        await expect.poll(() => rows.count()).toBe(0);
        expect(a.problems()).toEqual([]);
      } catch (error) {
        await onFailure(a.page, error);
      } finally {
        await a.close();
      }
    }, 60_000);

    it('an invitation sent in page A appears in page B within 2 s, without a reload', async () => {
      const [a, b] = await Promise.all([openTeamPage(), openTeamPage()]);
      const suffix = Date.now().toString(36);
      const emails = [`ada.${suffix}@example.com`, `alan.${suffix}@example.com`];
      try {
        await a.page.getByTestId('invite-emails').fill(emails.join(', '));
        await a.page.getByTestId('invite-role').selectOption('org:admin');
        const sentAt = Date.now();
        await a.page.getByTestId('invite-submit').click();
        await shownWithin('invitation', sentAt, (timeout) =>
          b.page.waitForFunction(
            (wanted) => {
              const rows = [...document.querySelectorAll('[data-testid="invitation-row"]')];
              return wanted.every((email) => rows.some((row) => row.textContent?.includes(email)));
            },
            emails,
            { timeout },
          ),
        );
        expect(await notReloaded(b.page)).toBe(true);
        const row = b.page.locator('[data-testid="invitation-row"]', { hasText: emails[0] });
        expect(await row.textContent()).toMatch(/Admin.*in 30 days/);
        expect(await a.page.getByTestId('error').count()).toBe(0);
        // Trusted documents: IDs only, never a query's text (the server runs in trusted-only mode here). The
        // mutation carries an Idempotency-Key.
        for (const { body } of a.sent) {
          expect(body.documentId).toMatch(/^sha256:[0-9a-f]{64}$/);
          expect(body.query).toBeUndefined();
        }
        const mutations = a.sent.filter(({ body }) =>
          JSON.stringify(body.variables).includes(emails[0] as string),
        );
        expect(mutations).toHaveLength(1);
        expect(mutations[0]?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
        expect([...a.problems(), ...b.problems()]).toEqual([]);
      } catch (error) {
        await onFailure(b.page, error);
      } finally {
        await Promise.all([a.close(), b.close()]);
        // Leave acme as the other tests expect it (any order).
        const { data } = await clerk.organizations.getOrganizationInvitationList({
          organizationId: acmeId,
          status: ['pending'],
        });
        for (const invitation of data.filter((i) => emails.includes(i.emailAddress))) {
          await clerk.organizations.revokeOrganizationInvitation({
            organizationId: acmeId,
            invitationId: invitation.id,
          });
        }
      }
    }, 60_000);

    it('a role change made in page A appears in page B within 2 s, without a reload', async () => {
      const memberships = await clerk.organizations.getOrganizationMembershipList({
        organizationId: acmeId,
        limit: 100,
      });
      const member = memberships.data.find((m) => m.role === 'org:member');
      const userId = member?.publicUserData?.userId;
      if (!userId) throw new Error('the demo seed has no member in acme');
      const [a, b] = await Promise.all([openTeamPage(), openTeamPage()]);
      const roleIn = (page: Page) =>
        page.locator(`[data-testid="member-row"][data-user-id="${userId}"] [data-testid="role-select"]`);
      try {
        expect(await roleIn(b.page).inputValue()).toBe('org:member');
        const changedAt = Date.now();
        await roleIn(a.page).selectOption('org:admin');
        await shownWithin('role change', changedAt, (timeout) =>
          b.page.waitForFunction(
            (id) =>
              document.querySelector<HTMLSelectElement>(
                `[data-testid="member-row"][data-user-id="${id}"] [data-testid="role-select"]`,
              )?.value === 'org:admin',
            userId,
            { timeout },
          ),
        );
        expect(await notReloaded(b.page)).toBe(true);
        expect(await a.page.getByTestId('error').count()).toBe(0);
        expect([...a.problems(), ...b.problems()]).toEqual([]);
      } catch (error) {
        await onFailure(b.page, error);
      } finally {
        await Promise.all([a.close(), b.close()]);
        await clerk.organizations.updateOrganizationMembership({
          organizationId: acmeId,
          userId,
          role: 'org:member',
        });
      }
    }, 60_000);

    it('a removal made in page A appears in page B within 2 s, without a reload', async () => {
      const memberships = await clerk.organizations.getOrganizationMembershipList({
        organizationId: acmeId,
        limit: 100,
      });
      const member = memberships.data.find((m) => m.role === 'org:member');
      const userId = member?.publicUserData?.userId;
      if (!member || !userId) throw new Error('the demo seed has no member in acme');
      const [a, b] = await Promise.all([openTeamPage(), openTeamPage()]);
      const rowOf = (page: Page) => page.locator(`[data-testid="member-row"][data-user-id="${userId}"]`);
      try {
        expect(await rowOf(b.page).count()).toBe(1);
        const removedAt = Date.now();
        await rowOf(a.page).getByTestId('remove-member').click();
        await shownWithin('removal', removedAt, (timeout) =>
          b.page.waitForFunction(
            (id) => document.querySelector(`[data-testid="member-row"][data-user-id="${id}"]`) === null,
            userId,
            { timeout },
          ),
        );
        expect(await notReloaded(b.page)).toBe(true);
        expect(await b.page.locator('[data-testid="member-row"]').count()).toBe(memberships.totalCount - 1);
        expect(await a.page.getByTestId('error').count()).toBe(0);
        expect([...a.problems(), ...b.problems()]).toEqual([]);
      } catch (error) {
        await onFailure(b.page, error);
      } finally {
        await Promise.all([a.close(), b.close()]);
        const still = await clerk.organizations.getOrganizationMembershipList({
          organizationId: acmeId,
          limit: 100,
        });
        if (!still.data.some((m) => m.publicUserData?.userId === userId)) {
          await clerk.organizations.createOrganizationMembership({
            organizationId: acmeId,
            userId,
            role: member.role,
          });
        }
      }
    }, 60_000);

    it('resends and revokes invitations, live in page B; inviting someone invited shows ALREADY_INVITED', async () => {
      const { data: pending } = await clerk.organizations.getOrganizationInvitationList({
        organizationId: acmeId,
        status: ['pending'],
      });
      const [first, second] = pending;
      if (!first || !second) throw new Error('the demo seed has fewer than 2 pending invitations in acme');
      const [a, b] = await Promise.all([openTeamPage(), openTeamPage()]);
      const invitationIds = (page: Page) =>
        page
          .locator('[data-testid="invitation-row"]')
          .evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.invitationId));
      try {
        // Someone invited already: refused by code, nothing sent.
        await a.page.getByTestId('invite-emails').fill(first.emailAddress);
        await a.page.getByTestId('invite-submit').click();
        await expect
          .poll(() => a.page.getByTestId('error').getAttribute('data-code'))
          .toBe('ALREADY_INVITED');
        expect(await a.page.getByTestId('error').textContent()).toContain(first.emailAddress);

        // Resend: a new invitation (new ID, new expiry) for the same address, in both pages.
        const resentAt = Date.now();
        await a.page
          .locator(`[data-invitation-id="${first.id}"]`)
          .getByRole('button', { name: 'Resend' })
          .click();
        await shownWithin('resend', resentAt, (timeout) =>
          b.page.waitForFunction(
            ([oldId, email]) => {
              const rows = [...document.querySelectorAll<HTMLElement>('[data-testid="invitation-row"]')];
              return (
                !rows.some((row) => row.dataset.invitationId === oldId) &&
                rows.some((row) => row.textContent?.includes(email))
              );
            },
            [first.id, first.emailAddress] as const,
            { timeout },
          ),
        );
        // Revoke: gone from both pages.
        const revokedAt = Date.now();
        await a.page
          .locator(`[data-invitation-id="${second.id}"]`)
          .getByRole('button', { name: 'Revoke' })
          .click();
        await shownWithin('revoke', revokedAt, (timeout) =>
          b.page.waitForFunction(
            (id) => document.querySelector(`[data-invitation-id="${id}"]`) === null,
            second.id,
            { timeout },
          ),
        );
        expect(await notReloaded(b.page)).toBe(true);
        expect(await invitationIds(b.page)).toHaveLength(pending.length - 1);
        expect([...a.problems(), ...b.problems()]).toEqual([]);
      } catch (error) {
        await onFailure(b.page, error);
      } finally {
        await Promise.all([a.close(), b.close()]);
        // Back to the seed's invitations: the revoked one invited again (the resent one is pending already).
        const { data: now } = await clerk.organizations.getOrganizationInvitationList({
          organizationId: acmeId,
          status: ['pending'],
        });
        if (!now.some((i) => i.emailAddress === second.emailAddress)) {
          await clerk.organizations.createOrganizationInvitation({
            organizationId: acmeId,
            emailAddress: second.emailAddress,
            role: second.role,
          });
        }
      }
    }, 60_000);

    it('refusing to demote the last admin shows LAST_ADMIN, and changes nothing', async () => {
      const memberships = await clerk.organizations.getOrganizationMembershipList({
        organizationId: acmeId,
        limit: 100,
      });
      const admins = memberships.data.filter((m) => m.role === 'org:admin');
      const a = await openTeamPage();
      // The page's viewer (the demo admin) is the admin marked "(you)"; the other admins become members first.
      const viewerId = await a.page
        .locator('[data-testid="member-row"]', { hasText: '(you)' })
        .getAttribute('data-user-id');
      const others = admins
        .map((m) => m.publicUserData?.userId)
        .filter((id) => id && id !== viewerId) as string[];
      const roleIn = (userId: string) =>
        a.page.locator(`[data-testid="member-row"][data-user-id="${userId}"] [data-testid="role-select"]`);
      try {
        expect(viewerId).toBeTruthy();
        for (const userId of others) {
          await clerk.organizations.updateOrganizationMembership({
            organizationId: acmeId,
            userId,
            role: 'org:member',
          });
        }
        // The page (live) shows them as members: the server knows the viewer is the last admin.
        for (const userId of others) await expect.poll(() => roleIn(userId).inputValue()).toBe('org:member');

        await roleIn(viewerId as string).selectOption('org:member');
        const error = a.page.getByTestId('error');
        await error.waitFor({ timeout: 10_000 });
        expect(await error.textContent()).toContain('LAST_ADMIN');
        expect(await error.getAttribute('data-code')).toBe('LAST_ADMIN');
        // Nothing changed: the select shows the role the server has, and Clerk agrees.
        expect(await roleIn(viewerId as string).inputValue()).toBe('org:admin');
        const after = await clerk.organizations.getOrganizationMembershipList({
          organizationId: acmeId,
          limit: 100,
        });
        expect(after.data.find((m) => m.publicUserData?.userId === viewerId)?.role).toBe('org:admin');
        expect(a.problems()).toEqual([]);
      } catch (error) {
        await onFailure(a.page, error);
      } finally {
        await a.close();
        for (const userId of others) {
          await clerk.organizations.updateOrganizationMembership({
            organizationId: acmeId,
            userId,
            role: 'org:admin',
          });
        }
      }
    }, 60_000);
  },
);
