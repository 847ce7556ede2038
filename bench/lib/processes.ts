/**
 * Child processes of the benchmark: started with a known command line, tracked, and always stopped (SIGTERM, then
 * SIGKILL after a grace period), also when the harness itself fails or is interrupted. Readiness is polled over
 * HTTP with a deadline, never slept for.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';

const running = new Set<ChildProcess>();
let hooksInstalled = false;

/** Kills whatever is still running when the harness exits, however it exits. */
function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const child of running)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping child processes\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

export interface Child {
  name: string;
  process: ChildProcess;
  /** Last lines of stdout/stderr, for error messages. */
  output(): string;
  /** Resolves when the process has exited (with its code or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(graceMs?: number): Promise<void>;
}

function track(name: string, child: ChildProcess, echo: boolean): Child {
  running.add(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    if (echo) process.stderr.write(text.replace(/^(?=.)/gm, `[${name}] `));
    lines.push(...text.split('\n').filter((line) => line.trim() !== ''));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
  void exited.then(() => running.delete(child));
  return {
    name,
    process: child,
    output: () => lines.join('\n'),
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface StartOptions {
  name: string;
  /** Node flags before the script (e.g. --import tsx, --cpu-prof). */
  nodeArgs: string[];
  script: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Mirror the child's output to our stderr (debugging). */
  echo?: boolean;
}

/** A Node process (server, emulator, ceiling) with piped output. */
export function startNode(options: StartOptions): Child {
  installExitHooks();
  const child = spawn(process.execPath, [...options.nodeArgs, options.script, ...(options.args ?? [])], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(options.name, child, options.echo ?? false);
}

/** A Node process with an IPC channel (load worker, memory probe). */
export function forkNode(options: StartOptions): Child {
  installExitHooks();
  const child = fork(options.script, options.args ?? [], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    execArgv: options.nodeArgs,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return track(options.name, child, options.echo ?? false);
}

export async function stopAll(): Promise<void> {
  const children = [...running];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** A port that was free a moment ago (the processes need to know each other's ports before they start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200, the child dies, or the deadline passes. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void child.exited.then(() => {
    dead = true;
  });
  let lastError = '';
  while (Date.now() < deadline) {
    if (dead) {
      throw new Error(`${child.name} exited before it was ready:\n${child.output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `${child.name} not ready at ${url} after ${timeoutMs} ms (${lastError}):\n${child.output()}`,
  );
}
