/**
 * A real Redis for the multi-replica suites: Debian's `redis-server`, started on a free port with persistence off
 * (`--save '' --appendonly no`), stopped by pid. Without `redis-server` a suite skips, saying how to install it;
 * under CI (`CI=true`) a missing server fails instead, because `.ci/run` installs it and must never skip these.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';

export const REDIS_SERVER = 'redis-server';

/** Whether a suite should run: true where redis-server exists, and always under CI (where its absence fails). */
export function redisAvailable(suite: string): boolean {
  if (process.env.CI) return true;
  try {
    execFileSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn(`${suite}: SKIPPED, ${REDIS_SERVER} is missing (apt-get install -y redis-server)`);
    return false;
  }
}

export interface RedisProcess {
  url: string;
  port: number;
  pid: number;
  /** Stops the server (SIGKILL: a test that kills Redis wants it gone at once, not after a save). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (persistence is off). */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once the port accepts a PING and answers PONG. */
async function waitForPong(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
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

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    await waitForPong(port, child);
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
