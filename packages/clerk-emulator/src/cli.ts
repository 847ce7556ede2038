/**
 * Standalone runner: `npm run emulator -- --port 4001 --seed demo --secret-key sk_test_… --latency-ms 200
 * --webhook-url URL --webhook-secret whsec_…`.
 */
import { parseArgs } from 'node:util';
import { loadOrCreateSigningKeyPem, startClerkEmulator } from './index.js';

const HELP = `Clerk Backend API emulator

Usage: clerk-emulator [options]   (in this repository: npm run emulator -- [options])

Options:
  --port <n>              Port to listen on (default 4001; 0 = ephemeral)
  --host <addr>           Address to bind (default 127.0.0.1)
  --seed <demo|empty>     Initial data (default demo)
  --secret-key <sk_…>     Secret key the /v1 API accepts (default sk_test_emulator)
  --latency-ms <n>        Fixed latency added to every /v1 response (default 0)
  --jitter-ms <n>         Extra uniform latency in [0, n) (default 0)
  --webhook-url <url>     Deliver Svix-signed webhooks here (repeatable, paired with --webhook-secret)
  --webhook-secret <s>    Svix signing secret whsec_… for the matching --webhook-url
  --rate-limit <mode>     off | development | production (default off)
  --key-file <path>       Sign tokens with the RSA key in this PEM file, created if missing, so tokens
                          outlive a restart (default: a new key each start)
  -h, --help              Show this help

Control API (no key): GET /__emulator, POST /__emulator/tokens {"user_id","org_id"}, /__emulator/latency,
/__emulator/faults, /__emulator/counters, /__emulator/requests, /__emulator/webhooks/*, /__emulator/demo …
`;

function fail(message: string): never {
  process.stderr.write(`clerk-emulator: ${message}\n\n${HELP}`);
  process.exit(2);
}

function nonNegativeInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    fail(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const seed = values.seed ?? 'demo';
  if (seed !== 'demo' && seed !== 'empty') fail(`--seed must be demo or empty, got ${JSON.stringify(seed)}`);
  const urls = values['webhook-url'] ?? [];
  const secrets = values['webhook-secret'] ?? [];
  if (urls.length !== secrets.length) fail('every --webhook-url needs a matching --webhook-secret');
  const rateLimit = values['rate-limit'] ?? 'off';
  if (!['off', 'development', 'production'].includes(rateLimit)) {
    fail('--rate-limit must be off, development or production');
  }

  const emulator = await startClerkEmulator({
    port: nonNegativeInteger(values.port, 'port', 4001),
    host: values.host ?? '127.0.0.1',
    seed,
    secretKey: values['secret-key'] ?? 'sk_test_emulator',
    latencyMs: nonNegativeInteger(values['latency-ms'], 'latency-ms', 0),
    jitterMs: nonNegativeInteger(values['jitter-ms'], 'jitter-ms', 0),
    webhookEndpoints: urls.map((url, i) => ({ url, secret: secrets[i] ?? '' })),
    rateLimit: rateLimit === 'off' ? false : (rateLimit as 'development' | 'production'),
    ...(values['key-file'] ? { signingKeyPem: await loadOrCreateSigningKeyPem(values['key-file']) } : {}),
  });

  const lines = [
    `Clerk emulator listening on ${emulator.url}`,
    `  apiUrl (CLERK_API_URL):  ${emulator.url}`,
    `  secret key:              ${emulator.secretKey}`,
    `  instance id / kid:       ${emulator.kid}`,
    `  seed:                    ${seed}`,
    `  latency:                 ${values['latency-ms'] ?? 0} ms`,
    ...urls.map((url) => `  webhook endpoint:        ${url}`),
    '',
    'Public key (CLERK_JWT_KEY):',
    emulator.publicKeyPem.trim(),
    '',
  ];
  const demo = emulator.demo;
  if (demo) {
    const adminId = demo.acme.adminUserIds[0] ?? '';
    const token = emulator.mintToken({ userId: adminId, orgId: demo.acme.organizationId, expiresInS: 3600 });
    lines.push(
      `Demo: acme ${demo.acme.organizationId}, globex ${demo.globex.organizationId}, initech ${demo.initech.organizationId}`,
      `Demo token for acme admin ${adminId} (valid 1 h; mint more with POST ${emulator.url}/__emulator/tokens):`,
      token,
      '',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: closing the emulator\n`);
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    setTimeout(() => process.exit(1), 3000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function parseOptions() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      'secret-key': { type: 'string' },
      'latency-ms': { type: 'string' },
      'jitter-ms': { type: 'string' },
      'webhook-url': { type: 'string', multiple: true },
      'webhook-secret': { type: 'string', multiple: true },
      'rate-limit': { type: 'string' },
      'key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`clerk-emulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
