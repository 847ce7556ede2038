/**
 * Process entry: read the configuration, start the embedded Clerk emulator when no Clerk key is configured,
 * start the server, and shut down cleanly on SIGTERM / SIGINT.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { DEFAULT_QUERY } from './graphql/yoga.js';
import { createLogger } from './logger.js';

/** The demo token must outlive an afternoon of exploring in GraphiQL (Clerk's own live about 60 s). */
const DEMO_TOKEN_LIFETIME_S = 24 * 60 * 60;

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  // A stray rejection is a bug to fix, not a reason to drop every request in flight: log it and keep serving.
  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: reason }));

  // Zero-config start: no Clerk key means the emulator, in this process, with demo data.
  const emulator = config.clerkSecretKey
    ? undefined
    : await (await import('./clerk-emulator/index.js')).startClerkEmulator({
        port: config.clerkEmulatorPort,
        seed: 'demo',
        latencyMs: config.clerkEmulatorLatencyMs,
      });
  const webhookSecret =
    config.clerkWebhookSigningSecret ??
    (emulator ? `whsec_${randomBytes(24).toString('base64')}` : undefined);
  const demo = emulator?.demo;
  const demoUserId = demo?.acme.adminUserIds[0];
  const demoToken =
    emulator && demo && demoUserId
      ? emulator.mintToken({
          userId: demoUserId,
          orgId: demo.acme.organizationId,
          expiresInS: DEMO_TOKEN_LIFETIME_S,
        })
      : undefined;

  const app = createApp({
    config: {
      ...config,
      clerkSecretKey: emulator?.secretKey ?? (config.clerkSecretKey as string),
      clerkApiUrl: emulator?.url ?? config.clerkApiUrl,
      clerkJwtKey: config.clerkJwtKey ?? emulator?.publicKeyPem,
      clerkWebhookSigningSecret: webhookSecret,
    },
    logger,
    graphiql: demo
      ? {
          defaultQuery: DEFAULT_QUERY(demo.acme.organizationId),
          defaultHeaders: { Authorization: `Bearer ${demoToken}` },
        }
      : {},
  });

  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(config.port, config.host, resolve);
  });
  const { port } = app.server.address() as AddressInfo;
  const localUrl = `http://localhost:${port}`;

  if (emulator && webhookSecret) {
    emulator.control.addWebhookEndpoint({
      url: `http://127.0.0.1:${port}/webhooks/clerk`,
      secret: webhookSecret,
    });
  }
  if (!webhookSecret) {
    logger.warn(
      'CLERK_WEBHOOK_SIGNING_SECRET is not set: /webhooks/clerk answers 503 and freshness relies on the cache TTL alone',
    );
  }
  logger.info('server listening', {
    url: `${localUrl}/graphql`,
    clerk: emulator ? 'emulator' : config.clerkApiUrl,
  });

  if (emulator) {
    process.stdout.write(
      [
        '',
        '================================================================================',
        '  NO CLERK_SECRET_KEY: running against the embedded Clerk EMULATOR (demo data).',
        `  Emulator:  ${emulator.url} (secret key ${emulator.secretKey}, ${config.clerkEmulatorLatencyMs} ms latency)`,
        `  GraphiQL:  ${localUrl}/graphql  (Authorization header prefilled)`,
        `  Demo token (acme admin, valid 24 h):`,
        `  ${demoToken}`,
        '  Set CLERK_SECRET_KEY to talk to the real Clerk.',
        '================================================================================',
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await app.shutdown();
    await emulator?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
