/**
 * What a machine without redis-server sees from the Redis suites: locally a skip with the install command, under
 * CI a failure naming it. A missing executable name stands in for the missing server; nothing is uninstalled.
 */
import { describe, expect, it } from 'vitest';
import { startRedis } from '../bench/lib/redis-server.js';
import { redisAvailable } from './helpers/redis.js';

const MISSING = 'redis-server-that-is-not-installed';
const INSTALL = 'apt-get install -y redis-server';

describe('redisAvailable', () => {
  it('locally, a missing server skips the suite with a warning that names the install command', () => {
    const warnings: string[] = [];
    const available = redisAvailable('some suite', {
      binary: MISSING,
      ci: false,
      warn: (message) => warnings.push(message),
    });
    expect(available).toBe(false);
    expect(warnings).toEqual([`some suite: SKIPPED, ${MISSING} is missing (${INSTALL})`]);
  });

  it('under CI, a missing server fails the suite, naming the install command', () => {
    const warnings: string[] = [];
    expect(() =>
      redisAvailable('some suite', { binary: MISSING, ci: true, warn: (message) => warnings.push(message) }),
    ).toThrow(INSTALL);
    expect(warnings).toEqual([]);
  });

  it('runs the suite wherever the executable answers --version, CI or not', () => {
    for (const ci of [false, true])
      expect(redisAvailable('some suite', { binary: process.execPath, ci })).toBe(true);
  });
});

describe('startRedis', () => {
  it('rejects with the install command when the executable cannot be started', async () => {
    await expect(startRedis({ binary: MISSING })).rejects.toThrow(INSTALL);
  });
});
