/**
 * Production entry (`node dist/main.js`): read the configuration, serve, shut down cleanly on a signal.
 * It talks to Clerk only; the zero-config start against the emulator is the development entry, dev.ts, which the
 * production build does not contain.
 */
import { ConfigError, loadConfig } from './config.js';
import { TRUSTED_ONLY_NOTICE } from './fast-path/trusted-documents.js';
import { createLogger } from './observability/logger.js';
import { exitOnStartFailure, startServer, startTracingFor } from './server.js';

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  const tracing = await startTracingFor(config);
  const { port, adminPort } = await startServer({
    config: { ...config, clerkSecretKey: config.clerkSecretKey as string },
    logger,
    tracing,
    port: config.port,
    host: config.host,
    adminPort: config.adminPort,
    adminHost: config.adminHost,
    shutdownDelayMs: config.shutdownDelayMs,
    shutdownGraceMs: config.shutdownGraceMs,
  });
  if (!config.clerkWebhookSigningSecret) {
    logger.warn(
      'CLERK_WEBHOOK_SIGNING_SECRET is not set: /webhooks/clerk answers 503 and freshness relies on the cache TTL alone',
    );
  }
  logger.info('server listening', {
    url: `http://localhost:${port}/graphql`,
    metrics: `http://localhost:${adminPort}/metrics`,
    clerk: config.clerkApiUrl,
    traces: config.otelTracesEndpoint ? new URL(config.otelTracesEndpoint).origin : 'off',
  });
  if (config.trustedDocumentsOnly) logger.info(TRUSTED_ONLY_NOTICE);
}

main().catch(exitOnStartFailure);
