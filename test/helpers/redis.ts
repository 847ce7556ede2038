/**
 * Whether a Redis suite runs: the process itself is started by bench/lib/redis-server.ts (the cluster benchmarks
 * start it too). Without `redis-server` a suite is skipped locally, with a warning naming the install command;
 * under CI (`CI` set) it fails instead, because CI installs it and must never skip these suites.
 */
import { execFileSync } from 'node:child_process';
import { REDIS_INSTALL_COMMAND, REDIS_SERVER } from '../../bench/lib/redis-server.js';

export { type RedisProcess, startRedis } from '../../bench/lib/redis-server.js';

export interface RedisAvailableOptions {
  /** The executable looked for (a missing name shows what a machine without it sees). @default `redis-server` */
  binary?: string;
  /** Whether this is a CI run, where a missing server fails the suite. @default `Boolean(process.env.CI)` */
  ci?: boolean;
  /** Where the local skip is announced. @default `console.warn` */
  warn?: (message: string) => void;
}

/**
 * True where the executable runs. Where it does not: under CI it throws (the suite fails, naming the install
 * command); locally it warns with the install command and returns false (the suite skips).
 */
export function redisAvailable(suite: string, options: RedisAvailableOptions = {}): boolean {
  const binary = options.binary ?? REDIS_SERVER;
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (options.ci ?? Boolean(process.env.CI)) {
      throw new Error(
        `${suite}: ${binary} is missing, and CI never skips the Redis suites: ${REDIS_INSTALL_COMMAND}`,
      );
    }
    (options.warn ?? console.warn)(`${suite}: SKIPPED, ${binary} is missing (${REDIS_INSTALL_COMMAND})`);
    return false;
  }
}
