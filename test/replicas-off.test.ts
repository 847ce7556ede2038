/**
 * Without REDIS_URL nothing changes (issue 11): no Redis layer, no `redis_` series, the zero-config start as before.
 * And a REDIS_URL that is not a Redis URL stops the start with a message naming it. Runs without redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { type Harness, startHarness } from './helpers/harness.js';

describe('without REDIS_URL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.close());

  it('builds no Redis layer and exposes no redis_ metrics', async () => {
    expect(h.app.shared).toBeUndefined();
    const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/^redis_/m);
  });
});

describe('REDIS_ configuration', () => {
  const base = { CLERK_SECRET_KEY: 'sk_test_x' };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems;
    }
  };

  it('accepts redis:// and rediss:// URLs, with defaults for the rest', () => {
    expect(loadConfig({ ...base, REDIS_URL: 'rediss://user:pw@cache.internal:6380/2' })).toMatchObject({
      redisUrl: 'rediss://user:pw@cache.internal:6380/2',
      redisTimeoutMs: 250,
      redisHeartbeatMs: 1000,
      redisKeyPrefix: 'team-graphql:',
    });
    expect(loadConfig(base).redisUrl).toBeUndefined();
  });

  it('refuses what is not a Redis URL, a bad prefix, and out-of-range timings, naming the variable', () => {
    expect(problems({ REDIS_URL: 'http://cache:6379' })).toEqual([
      'REDIS_URL must be a redis:// or rediss:// URL',
    ]);
    expect(problems({ REDIS_URL: 'not a url' })).toEqual(['REDIS_URL must be a redis:// or rediss:// URL']);
    expect(problems({ REDIS_KEY_PREFIX: 'has space' })[0]).toMatch(/^REDIS_KEY_PREFIX/);
    expect(problems({ REDIS_TIMEOUT_MS: '0' })[0]).toMatch(/^REDIS_TIMEOUT_MS/);
    expect(problems({ REDIS_HEARTBEAT_MS: '5' })[0]).toMatch(/^REDIS_HEARTBEAT_MS/);
  });
});
