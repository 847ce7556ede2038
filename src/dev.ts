/**
 * Development entry (`npm start`). With `CLERK_SECRET_KEY` set it serves against that Clerk, like main.ts. Without
 * it, it starts the Clerk emulator package in this process with demo data, wires its webhooks to the server, serves
 * the example Team page (examples/team-page, built by `npm start`) at `/` signed in as the demo admin, and prints
 * a GraphiQL URL and a demo token: the zero-config start. Not part of the production build (see
 * tsconfig.build.json), so `dist/` never contains the emulator.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadOrCreateSigningKeyPem, startClerkEmulator } from '@team-graphql/clerk-emulator';
import { ConfigError, loadConfig } from './config.js';
import { TRUSTED_ONLY_NOTICE } from './fast-path/trusted-documents.js';
import { DEFAULT_QUERY } from './graphql/graphiql.js';
import { loadStaticSite, type StaticSite } from './http/static-site.js';
import { createLogger } from './observability/logger.js';
import { exitOnStartFailure, startServer, startTracingFor } from './server.js';

/** The demo token must outlive an afternoon of exploring in GraphiQL (Clerk's own live about 60 s). */
const DEMO_TOKEN_LIFETIME_S = 24 * 60 * 60;
/** GraphiQL's second tab: the team page, live (`subscription teamChanged`, over SSE). */
const LIVE_TEAM = (
  organizationId: string,
) => `# The team page, live: ▶ starts the stream. The first event is the current state (INITIAL),
# then one arrives after every change. Make one with the curl printed in the terminal (it adds a member).
subscription LiveTeam {
  teamChanged(organizationId: "${organizationId}") {
    reasons
    version
    members(limit: 20, includePending: true) {
      fromCache
      cachedAt
      totalCount
      members { userId firstName lastName email role createdAt }
      pendingInvitations { id email role createdAt }
    }
  }
}
`;

/**
 * The team actions, on the demo team: pick one in GraphiQL's ▶ menu. No Idempotency-Key header here: one key is
 * for one action (the same key with another mutation is refused), so a fixed one would fit only the first.
 */
const TEAM_ACTIONS = (ids: {
  organizationId: string;
  memberUserId: string;
  invitationId: string;
}) => `# Team actions on the demo team (the token is an acme admin's). ▶ asks which mutation to run; the payload's
# organization is read after the write, and every member, replica and live stream sees the change at once.
# A frontend sends each action with an "Idempotency-Key" header (a new UUID per action) so a retry never writes twice.
mutation Invite {
  inviteMembers(
    organizationId: "${ids.organizationId}"
    invitations: [{ email: "new.person@example.com", role: "org:member" }]
  ) {
    results { email errorCode errorMessage invitation { id expiresAt } }
    organization { seats { members pendingInvitations max available } }
  }
}

mutation MakeAdmin {
  updateMemberRole(organizationId: "${ids.organizationId}", userId: "${ids.memberUserId}", role: "org:admin") {
    organization { members(roles: ["org:admin"]) { members { userId firstName role } } }
  }
}

mutation Resend {
  resendInvitation(organizationId: "${ids.organizationId}", invitationId: "${ids.invitationId}") {
    invitation { id email expiresAt }
  }
}

mutation Remove {
  removeMember(organizationId: "${ids.organizationId}", userId: "${ids.memberUserId}") {
    organization { members { totalCount } }
  }
}

# The last admin cannot leave: LAST_ADMIN.
mutation Leave {
  leaveOrganization(organizationId: "${ids.organizationId}") { organizationId }
}
`;

/** Git-ignored: the emulator's signing key survives restarts, so a demo token keeps working after one. */
const SIGNING_KEY_FILE = fileURLToPath(new URL('../.clerk-emulator/signing-key.pem', import.meta.url));

/** The example Team page: its build (`npm run build -w examples/team-page`; `npm start` runs it first). */
const TEAM_PAGE_BUILD = fileURLToPath(new URL('../examples/team-page/dist', import.meta.url));
/** Its trusted documents (codegen's manifest): the page sends document IDs, so the server loads them. */
const TEAM_PAGE_DOCUMENTS = fileURLToPath(
  new URL('../examples/team-page/src/gql/persisted-documents.json', import.meta.url),
);

/** The Team page, signed in with `token` (a `<meta>` the page reads); undefined when it is not built. */
async function teamPage(token: string): Promise<StaticSite | undefined> {
  if (!existsSync(`${TEAM_PAGE_BUILD}/index.html`)) return undefined;
  return loadStaticSite({
    root: TEAM_PAGE_BUILD,
    head: `<meta name="demo-session-token" content="${token}">`,
  });
}

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env, { development: true });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  const tracing = await startTracingFor(config);
  if (config.clerkSecretKey) {
    const { port, adminPort } = await startServer({
      config: { ...config, clerkSecretKey: config.clerkSecretKey },
      logger,
      tracing,
      port: config.port,
      host: config.host,
      adminPort: config.adminPort,
      adminHost: config.adminHost,
      shutdownDelayMs: config.shutdownDelayMs,
      shutdownGraceMs: config.shutdownGraceMs,
    });
    logger.info('server listening', {
      url: `http://localhost:${port}/graphql`,
      metrics: `http://localhost:${adminPort}/metrics`,
      clerk: config.clerkApiUrl,
    });
    if (config.trustedDocumentsOnly) logger.info(TRUSTED_ONLY_NOTICE);
    return;
  }

  const emulator = await startClerkEmulator({
    port: config.clerkEmulatorPort,
    seed: 'demo',
    latencyMs: config.clerkEmulatorLatencyMs,
    signingKeyPem: await loadOrCreateSigningKeyPem(SIGNING_KEY_FILE),
  });
  const demo = emulator.demo;
  const demoUserId = demo?.acme.adminUserIds[0];
  if (!demo || !demoUserId) throw new Error('the demo seed has no acme admin');
  const demoToken = emulator.mintToken({
    userId: demoUserId,
    orgId: demo.acme.organizationId,
    expiresInS: DEMO_TOKEN_LIFETIME_S,
  });
  const webhookSecret = config.clerkWebhookSigningSecret ?? `whsec_${randomBytes(24).toString('base64')}`;
  const site = await teamPage(demoToken);

  const { port, adminPort } = await startServer({
    config: {
      ...config,
      // The Team page's documents, unless a manifest is configured (plain queries stay allowed: GraphiQL).
      trustedDocumentsManifest: config.trustedDocumentsManifest ?? TEAM_PAGE_DOCUMENTS,
      clerkSecretKey: emulator.secretKey,
      clerkApiUrl: emulator.url,
      clerkJwtKey: config.clerkJwtKey ?? emulator.publicKeyPem,
      clerkWebhookSigningSecret: webhookSecret,
    },
    // A frontend's dev server on another localhost port may call the API from the browser.
    allowLocalhostOrigins: true,
    site,
    logger,
    tracing,
    port: config.port,
    host: config.host,
    adminPort: config.adminPort,
    adminHost: config.adminHost,
    shutdownDelayMs: config.shutdownDelayMs,
    shutdownGraceMs: config.shutdownGraceMs,
    graphiql: {
      defaultQuery: DEFAULT_QUERY(demo.acme.organizationId),
      defaultHeaders: { Authorization: `Bearer ${demoToken}` },
      // The team query, and the same page live.
      defaultTabs: [
        ...[DEFAULT_QUERY, LIVE_TEAM].map((template) => ({
          query: template(demo.acme.organizationId),
          headers: { Authorization: `Bearer ${demoToken}` },
        })),
        {
          query: TEAM_ACTIONS({
            organizationId: demo.acme.organizationId,
            memberUserId: demo.acme.memberUserIds[0] ?? '',
            invitationId: demo.acme.pendingInvitationIds[0] ?? '',
          }),
          headers: { Authorization: `Bearer ${demoToken}` },
        },
      ],
    },
    onShutdown: () => emulator.close(),
  });
  emulator.control.addWebhookEndpoint({
    url: `http://127.0.0.1:${port}/webhooks/clerk`,
    secret: webhookSecret,
  });

  const localUrl = `http://localhost:${port}`;
  logger.info('server listening', {
    url: `${localUrl}/graphql`,
    metrics: `http://localhost:${adminPort}/metrics`,
    clerk: 'emulator',
  });
  process.stdout.write(
    [
      '',
      '================================================================================',
      '  NO CLERK_SECRET_KEY: running against the embedded Clerk EMULATOR (demo data).',
      `  Emulator:  ${emulator.url} (secret key ${emulator.secretKey}, ${config.clerkEmulatorLatencyMs} ms latency)`,
      site
        ? `  Team page: ${localUrl}/  (the example app, examples/team-page, signed in as the demo admin)`
        : '  Team page: not built (npm run build -w examples/team-page, or npm start, which builds it)',
      // GraphiQL sends plain queries: in trusted-only mode it is not advertised, and the banner says why.
      ...(config.trustedDocumentsOnly
        ? [
            "  TRUSTED DOCUMENTS ONLY: plain queries are refused (PERSISTED_QUERY_ONLY), GraphiQL's included;",
            `  only the documents of ${config.trustedDocumentsManifest} run (by documentId or persistedQuery hash).`,
            '  For GraphiQL in development, start without it: TRUSTED_DOCUMENTS_ONLY=false npm start',
            `  API:       ${localUrl}/graphql`,
          ]
        : [`  GraphiQL:  ${localUrl}/graphql  (Authorization header prefilled)`]),
      `  Metrics:   http://localhost:${adminPort}/metrics  (the admin port, ADMIN_PORT)`,
      `  Demo token (acme admin, valid 24 h, also after a restart):`,
      `  ${demoToken}`,
      config.trustedDocumentsOnly
        ? '  Change the demo team through the emulator (Clerk API):'
        : '  Live updates: run the "LiveTeam" tab in GraphiQL, then add a member through the emulator (Clerk API):',
      `  curl -s -X POST ${emulator.url}/v1/organizations/${demo.acme.slug}/memberships -H 'Authorization: Bearer ${emulator.secretKey}' -H 'Content-Type: application/json' -d '{"user_id":"${demo.outsiderUserId}","role":"org:member"}'`,
      `  (and remove them again: curl -s -X DELETE ${emulator.url}/v1/organizations/${demo.acme.slug}/memberships/${demo.outsiderUserId} -H 'Authorization: Bearer ${emulator.secretKey}')`,
      '  Set CLERK_SECRET_KEY to talk to the real Clerk.',
      '================================================================================',
      '',
    ].join('\n'),
  );
}

main().catch(exitOnStartFailure);
