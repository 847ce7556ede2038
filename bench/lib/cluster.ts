/**
 * Several replicas on loopback, as `npm run cluster` and the three-replica benchmark run them: one Redis
 * (redis-server on a free port with persistence off, or `REDIS_URL` if set), the Clerk emulator in this process
 * with demo data (its webhooks go to replica A only, as Clerk sends each webhook to one endpoint), and N server
 * processes (`src/main.ts` through tsx, or `dist/main.js`) on consecutive ports, all with the same `REDIS_URL`.
 */
import { randomBytes } from 'node:crypto';
import { type ClerkEmulator, startClerkEmulator } from '@team-graphql/clerk-emulator';
import { type Child, forkNode, freePort, startNode, waitForHttp } from './processes.js';
import { type RedisProcess, startRedis } from './redis-server.js';
import { type Entry, ROOT } from './stack.js';

export interface ClusterReplica {
  name: string;
  url: string;
  /** Its admin listener: /metrics. */
  adminUrl: string;
  child: Child;
}

export interface ReplicaCluster {
  redisUrl: string;
  /** Ours to stop, unless REDIS_URL was given. */
  redis: RedisProcess | undefined;
  emulator: ClerkEmulator;
  webhookSecret: string;
  replicas: ClusterReplica[];
  stop(): Promise<void>;
}

export interface ReplicaClusterOptions {
  replicas?: number;
  /** Port of replica A; the others follow. @default free ports */
  basePort?: number;
  /** Latency the emulator adds to every Clerk call. @default 200 */
  latencyMs?: number;
  entry?: Entry;
  logLevel?: string;
  /** Mirror the replicas' output. */
  echo?: boolean;
  /** Extra environment for every replica. */
  env?: Record<string, string>;
  /** Node flags after the launch's own (preloads such as ./settled-heap.ts). */
  extraNodeArgs?: string[];
  /** Start each replica with an IPC channel (for preloads that answer messages, e.g. heap readings). */
  ipc?: boolean;
}

export async function startReplicaCluster(options: ReplicaClusterOptions = {}): Promise<ReplicaCluster> {
  const count = options.replicas ?? 3;
  const redis = process.env.REDIS_URL ? undefined : await startRedis();
  const redisUrl = process.env.REDIS_URL ?? (redis as RedisProcess).url;
  // However this process ends, the Redis it started ends with it (a child process would outlive it).
  if (redis) {
    process.once('exit', () => {
      try {
        process.kill(redis.pid, 'SIGKILL');
      } catch {
        // already stopped
      }
    });
  }
  const emulator = await startClerkEmulator({ seed: 'demo', latencyMs: options.latencyMs ?? 200 });
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const ports: number[] = [];
  for (let index = 0; index < count; index++)
    ports.push(options.basePort ? options.basePort + index : await freePort());
  // Free ports always: the admin port is not for browsers, nobody types it.
  const adminPorts: number[] = [];
  for (let index = 0; index < count; index++) adminPorts.push(await freePort());
  const entry = options.entry ?? 'src';
  const prefix = `cluster-${randomBytes(3).toString('hex')}:`;
  const replicas = ports.map((port, index) => {
    const name = String.fromCharCode(65 + index);
    const adminPort = adminPorts[index] as number;
    const child = (options.ipc ? forkNode : startNode)({
      name: `replica ${name}`,
      nodeArgs: [...(entry === 'src' ? ['--import', 'tsx'] : []), ...(options.extraNodeArgs ?? [])],
      script: entry === 'src' ? 'src/main.ts' : 'dist/main.js',
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        ADMIN_PORT: String(adminPort),
        // Nothing balances load in front of these replicas: a stop need not wait for one to notice.
        SHUTDOWN_DELAY_MS: '0',
        LOG_LEVEL: options.logLevel ?? 'warn',
        CLERK_SECRET_KEY: emulator.secretKey,
        CLERK_API_URL: emulator.url,
        CLERK_JWT_KEY: emulator.publicKeyPem,
        CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        ...options.env,
      },
      cwd: ROOT,
      echo: options.echo ?? false,
    });
    return { name, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}`, child };
  });
  await Promise.all(replicas.map((replica) => waitForHttp(`${replica.url}/readyz`, replica.child)));
  emulator.control.addWebhookEndpoint({
    url: `${(replicas[0] as ClusterReplica).url}/webhooks/clerk`,
    secret: webhookSecret,
  });
  return {
    redisUrl,
    redis,
    emulator,
    webhookSecret,
    replicas,
    async stop() {
      await Promise.all(replicas.map((replica) => replica.child.stop()));
      await emulator.close();
      await redis?.stop();
    },
  };
}
