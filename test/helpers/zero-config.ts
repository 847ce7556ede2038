/**
 * The zero-config start (`src/dev.ts`, what `npm start` runs without Clerk keys) as a child process on ephemeral
 * ports, for the tests that drive it from outside (the browser tests): resolves once its banner has printed every
 * URL asked for and the demo token.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Settings of the test's own environment that would change what the zero-config start does: left out. */
const INHERITED_SETTINGS = /^(CLERK_|CACHE_|GRAPHIQL_|TRUSTED_DOCUMENTS_|PORT$|HOST$|NODE_ENV$)/;

export interface ZeroConfigServer<Name extends string> {
  child: ChildProcess;
  /** The banner's URLs, by the names they were asked under. */
  urls: Record<Name, string>;
  /** Everything it printed so far (stdout, then stderr), for reports. */
  output(): string;
}

/**
 * `banner`: a pattern per URL to wait for, its first group the URL (e.g. `/GraphiQL:\s+(http:\/\/\S+\/graphql)/`).
 * `env`: settings of this start (on top of ephemeral ports and no Clerk latency).
 */
export function startZeroConfig<Name extends string>(
  banner: Record<Name, RegExp>,
  env: Record<string, string> = {},
): Promise<ZeroConfigServer<Name>> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!INHERITED_SETTINGS.test(key)) childEnv[key] = value;
  }
  Object.assign(childEnv, {
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_PORT: '0',
    CLERK_EMULATOR_PORT: '0',
    CLERK_EMULATOR_LATENCY_MS: '0',
    ...env,
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/dev.ts'], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (!/Demo token[^\n]*\n[^\n]+\n/.test(out)) return;
      const urls: Partial<Record<Name, string>> = {};
      for (const [name, pattern] of Object.entries(banner) as [Name, RegExp][]) {
        const url = out.match(pattern)?.[1];
        if (!url) return;
        urls[name] = url;
      }
      resolve({ child, urls: urls as Record<Name, string>, output: () => out + err });
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`server exited (${code ?? signal}) before its banner:\n${out}\n${err}`)),
    );
  });
}
