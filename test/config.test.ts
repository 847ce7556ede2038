import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults with an empty environment in the development entry (the zero-config start)', () => {
    const config = loadConfig({}, { development: true });
    expect(config).toMatchObject({
      port: 4000,
      // The zero-config page carries an admin token: loopback only unless HOST says otherwise.
      host: '127.0.0.1',
      clerkSecretKey: undefined,
      clerkApiUrl: 'https://api.clerk.com',
      cacheTtlSeconds: 300,
      clerkEmulatorPort: 4001,
      graphiqlEnabled: true,
      introspectionEnabled: true,
      corsOrigins: [],
    });
  });

  it('reads and normalizes every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      CLERK_SECRET_KEY: 'sk_live_abc',
      CLERK_API_URL: 'http://127.0.0.1:4001/',
      CLERK_JWT_KEY: '-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----',
      CLERK_AUTHORIZED_PARTIES: 'https://a.example, https://b.example',
      CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_dGVzdA==',
      CACHE_TTL_SECONDS: '60',
      CORS_ORIGINS: 'https://app.example',
      NODE_ENV: 'production',
    });
    expect(config).toMatchObject({
      port: 8080,
      production: true,
      clerkApiUrl: 'http://127.0.0.1:4001',
      clerkJwtKey: '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----',
      clerkAuthorizedParties: ['https://a.example', 'https://b.example'],
      cacheTtlSeconds: 60,
      corsOrigins: ['https://app.example'],
      graphiqlEnabled: false,
      introspectionEnabled: false,
    });
  });

  it('names every bad variable in one error', () => {
    const attempt = () =>
      loadConfig({
        PORT: 'eighty',
        CACHE_TTL_SECONDS: '0',
        CLERK_SECRET_KEY: 'pk_test_wrong',
        CLERK_API_URL: 'https://api.clerk.com/v1',
        CLERK_WEBHOOK_SIGNING_SECRET: 'secret',
        GRAPHIQL_ENABLED: 'maybe',
      });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      for (const name of [
        'PORT',
        'CACHE_TTL_SECONDS',
        'CLERK_SECRET_KEY',
        'CLERK_API_URL',
        'CLERK_WEBHOOK_SIGNING_SECRET',
        'GRAPHIQL_ENABLED',
      ]) {
        expect(problems).toContain(name);
      }
    }
  });

  it('refuses production without a Clerk secret key rather than silently running the emulator', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/CLERK_SECRET_KEY is required/);
    expect(() => loadConfig({ NODE_ENV: 'production' }, { development: true })).toThrow(
      /CLERK_SECRET_KEY is required/,
    );
  });

  it('the production entry needs a Clerk key even outside production: its build has no emulator', () => {
    expect(() => loadConfig({})).toThrow(/CLERK_SECRET_KEY is required/);
  });

  it('listens on every interface by default when talking to a real Clerk, and where HOST says always', () => {
    expect(loadConfig({ CLERK_SECRET_KEY: 'sk_test_x' }).host).toBe('0.0.0.0');
    expect(loadConfig({ CLERK_SECRET_KEY: 'sk_test_x' }, { development: true }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0' }, { development: true }).host).toBe('0.0.0.0');
  });

  it('serves /metrics on its own port, bound where HOST binds unless ADMIN_HOST says otherwise', () => {
    expect(loadConfig({ CLERK_SECRET_KEY: 'sk_test_x' })).toMatchObject({
      adminPort: 9464,
      adminHost: '0.0.0.0',
    });
    expect(loadConfig({}, { development: true })).toMatchObject({ adminPort: 9464, adminHost: '127.0.0.1' });
    expect(
      loadConfig({ CLERK_SECRET_KEY: 'sk_test_x', ADMIN_PORT: '0', ADMIN_HOST: '127.0.0.1' }),
    ).toMatchObject({ adminPort: 0, adminHost: '127.0.0.1', host: '0.0.0.0' });
    expect(() => loadConfig({ CLERK_SECRET_KEY: 'sk_test_x', PORT: '8080', ADMIN_PORT: '8080' })).toThrow(
      /ADMIN_PORT must differ from PORT/,
    );
    // Both 0: two free ports, never the same one.
    expect(loadConfig({ CLERK_SECRET_KEY: 'sk_test_x', PORT: '0', ADMIN_PORT: '0' }).adminPort).toBe(0);
  });

  it('waits for load balancers on a signal in production, not in `npm start`; in-flight requests get 10 s', () => {
    expect(loadConfig({ CLERK_SECRET_KEY: 'sk_test_x' })).toMatchObject({
      shutdownDelayMs: 5000,
      shutdownGraceMs: 10_000,
    });
    expect(loadConfig({}, { development: true })).toMatchObject({
      shutdownDelayMs: 0,
      shutdownGraceMs: 10_000,
    });
    expect(
      loadConfig({ SHUTDOWN_DELAY_MS: '15000', SHUTDOWN_GRACE_MS: '30000' }, { development: true }),
    ).toMatchObject({ shutdownDelayMs: 15_000, shutdownGraceMs: 30_000 });
    expect(() => loadConfig({ SHUTDOWN_DELAY_MS: '-1' }, { development: true })).toThrow(/SHUTDOWN_DELAY_MS/);
  });

  it('traces: off without an OTLP endpoint; the OTEL_* variables as the OpenTelemetry specification reads them', () => {
    const key = { CLERK_SECRET_KEY: 'sk_test_x' };
    expect(loadConfig(key)).toMatchObject({
      otelTracesEndpoint: undefined,
      otelTracesProtocol: 'http/protobuf',
      otelServiceName: 'team-graphql',
      otelTracesSampler: 'parentbased_always_on',
      otelTracesSamplerArg: 1,
      otelBspScheduleDelayMs: 5000,
    });
    expect(
      loadConfig({
        ...key,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'team-api',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.01',
      }),
    ).toMatchObject({
      otelTracesEndpoint: 'http://collector:4318/v1/traces',
      otelTracesProtocol: 'http/json',
      otelServiceName: 'team-api',
      otelTracesSampler: 'parentbased_traceidratio',
      otelTracesSamplerArg: 0.01,
    });
    // The signal's own variables win; OTEL_SDK_DISABLED turns it all off.
    expect(
      loadConfig({
        ...key,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/ingest',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }),
    ).toMatchObject({
      otelTracesEndpoint: 'https://traces.example/ingest',
      otelTracesProtocol: 'http/protobuf',
    });
    expect(
      loadConfig({ ...key, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })
        .otelTracesEndpoint,
    ).toBeUndefined();
    // gRPC, a ratio outside 0–1, an endpoint that is not a URL: named at start, not at the first export.
    expect(() =>
      loadConfig({
        ...key,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_TRACES_SAMPLER: 'traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '5',
      }),
    ).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT[\s\S]*OTEL_EXPORTER_OTLP_PROTOCOL[\s\S]*OTEL_TRACES_SAMPLER_ARG/);
  });

  it('gives the Redis settings their values without REDIS_URL too: an app is always handed every value', () => {
    expect(loadConfig({}, { development: true })).toMatchObject({
      redisUrl: undefined,
      redisTimeoutMs: 250,
      redisHeartbeatMs: 1000,
      redisOutageEvidenceMs: 1000,
      redisKeyPrefix: 'team-graphql:',
      clerkBudgetAssumedReplicas: 3,
    });
  });

  it('is where the defaults live: no other module falls back on a value of its own for a setting', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const root = new URL('../src/', import.meta.url);
    // dev.ts is exempt: without a Clerk key it supplies the embedded emulator's key and webhook secret.
    const files = (await readdir(root, { recursive: true })).filter(
      (file) => file.endsWith('.ts') && file !== 'config.ts' && file !== 'dev.ts',
    );
    const fallbacks: string[] = [];
    for (const file of files) {
      const source = await readFile(new URL(file, root), 'utf8');
      for (const match of source.matchAll(/\bconfig\.\w+\s*\?\?/g)) fallbacks.push(`${file}: ${match[0]}`);
    }
    expect(files.length).toBeGreaterThan(10);
    expect(fallbacks).toEqual([]);
  });
});

describe('README', () => {
  it('the configuration table lists every variable config.ts reads, and no other', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../src/config.ts', import.meta.url), 'utf8');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    // Every reader in config.ts takes the variable's name as its first argument: read('X'), integer('X', …), …
    const read = new Set(
      [...source.matchAll(/\b(?:read|integer|boolean|list|oneOf)\('([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]),
    );
    const section = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1),
    );
    const documented = new Set([...section.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|/gm)].map((m) => m[1]));
    expect(read.size).toBeGreaterThan(10);
    expect([...read].filter((name) => !documented.has(name)).sort(), 'read but not in README').toEqual([]);
    expect([...documented].filter((name) => !read.has(name)).sort(), 'in README but never read').toEqual([]);
  });
});
