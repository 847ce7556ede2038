/**
 * A real Redis for the multi-replica suites and the cluster benchmarks: Debian's `redis-server`, started on a free
 * port with persistence off (`--save '' --appendonly no`), stopped by pid. Whether a test suite may run without one
 * is the tests' question (test/helpers/redis.ts); this module only starts and stops the process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { freePort } from './processes.js';

export const REDIS_SERVER = 'redis-server';
/** How to get `redis-server` on Debian and Ubuntu, for the messages of whoever finds it missing. */
export const REDIS_INSTALL_COMMAND = 'apt-get install -y redis-server';

export interface RedisProcess {
  url: string;
  port: number;
  pid: number;
  /** Stops the server (SIGKILL: a test that kills Redis wants it gone at once, not after a save). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (persistence is off). */
  restart(): Promise<void>;
}

/** Resolves once the port accepts a PING and answers PONG; rejects once the process is gone. */
async function waitForPong(
  port: number,
  child: ChildProcess,
  spawnError: () => Error | undefined,
): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const failed = spawnError();
    if (failed) throw failed;
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const answered = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('redis-server did not answer PING');
}

export interface StartRedisOptions {
  /** The executable to start (a missing one shows how the error reads). @default `redis-server` */
  binary?: string;
}

/**
 * Starts a Redis on a free port and resolves once it answers PING. Rejects, naming the install command, when the
 * executable cannot be started.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisProcess> {
  const binary = options.binary ?? REDIS_SERVER;
  const port = await freePort();
  let child: ChildProcess;
  const launch = async () => {
    let spawnError: Error | undefined;
    child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    // Without a listener, a missing executable's ENOENT would be thrown as an uncaught 'error' event.
    child.once('error', (error) => {
      spawnError = new Error(`${binary} did not start (${error.message}): ${REDIS_INSTALL_COMMAND}`);
    });
    await waitForPong(port, child, () => spawnError);
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? 0;
    },
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}
