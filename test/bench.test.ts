/**
 * Keeps every benchmark entry working: each `npm run` bench command runs here in its smoke mode (sub-second
 * periods, tiny data; the server from src/ through tsx, so no build) and must exit 0 and print its report. No timing
 * assertions: smoke numbers mean nothing, and this machine may be busy with other suites. Runs write nothing under
 * bench/results/ (only `--record` does); the harness's report goes to a temporary --out-dir and is read back.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../bench/scenarios/index.js';
import { redisAvailable } from './helpers/redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs one bench entry through tsx; resolves with its exit code and everything it printed. */
async function runEntry(args: string[], limitMs: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), limitMs);
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  );
  clearTimeout(timer);
  return { code, output };
}

describe('benchmark entries (smoke mode)', () => {
  let outDir = '';
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('npm run bench: runs every scenario and writes the report where it is told', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
    const { code, output } = await runEntry(
      ['bench/run.ts', '--smoke', '--entry', 'src', '--out-dir', outDir],
      60_000,
    );
    expect(code, output.slice(-4000)).toBe(0);

    const markdown = await readFile(join(outDir, 'latest.md'), 'utf8');
    const report = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as {
      mode: { name: string };
      rows: { id: number; errors?: number; failure?: string }[];
      targets: unknown[];
    };
    expect(report.mode.name).toBe('smoke');
    const ids = SCENARIOS.map((scenario) => scenario.id);
    expect(report.rows.map((row) => row.id)).toEqual(ids);
    expect(report.rows.filter((row) => row.failure)).toEqual([]);
    // The harness asks the right questions: every scenario's requests were answered without errors.
    expect(report.rows.filter((row) => row.errors !== 0)).toEqual([]);
    expect(report.targets).toHaveLength(8);
    for (const id of ids) expect(markdown).toMatch(new RegExp(`^\\| ${id} \\| `, 'm'));
    expect(markdown).toContain('Ratio cache hit (2) / ceiling (1)');
    expect(markdown).not.toContain('not measured');
  }, 75_000);

  it('npm run bench:subscriptions: every subscriber gets every change; nothing recorded', async () => {
    const { code, output } = await runEntry(['bench/subscriptions.ts', '--smoke'], 60_000);
    expect(code, output.slice(-4000)).toBe(0);
    expect(output).toContain('| every subscriber got every event exactly once, in order, no errors | yes |');
    expect(output).not.toContain('NaN');
    expect(output).toContain('not recorded');
  }, 75_000);

  it('npm run freshness: starts the zero-config server and sees each change', async () => {
    const { code, output } = await runEntry(['bench/freshness.ts', '--rounds', '2'], 60_000);
    expect(code, output.slice(-4000)).toBe(0);
    expect(output).toContain('| measured over 2 writes |');
  }, 75_000);

  it('bench/tracing.ts: tracing off, on at 100 % and at 1 %, each path answered without errors, spans exported', async () => {
    const { code, output } = await runEntry(['bench/tracing.ts', '--smoke'], 120_000);
    expect(code, output.slice(-4000)).toBe(0);
    for (const setting of ['off', 'on, 100 % sampled', 'on, 1 % sampled']) {
      expect(output).toContain(`| replayed hit (fast path) | ${setting} |`);
      expect(output).toContain(`| hit through Yoga | ${setting} |`);
    }
    expect(output).toMatch(/\| on, 100 % sampled \|.*\| 0 \| \d+ batches/);
    expect(output).toContain('not recorded');
  }, 150_000);

  it.runIf(redisAvailable('soak smoke'))(
    'npm run soak: every layer and attack at once, every check passes',
    async () => {
      const { code, output } = await runEntry(['bench/soak.ts', '--smoke'], 150_000);
      expect(code, output.slice(-4000)).toBe(0);
      expect(output).toContain('soak: OK');
    },
    170_000,
  );

  it.runIf(redisAvailable('bench:replicas smoke'))(
    'npm run bench:replicas: three replicas answer without errors and see the changes',
    async () => {
      const { code, output } = await runEntry(['bench/replicas.ts', '--smoke'], 60_000);
      expect(code, output.slice(-4000)).toBe(0);
      expect(output).toMatch(/^\| \d+ \| 0 \| /m);
      expect(output).toContain('not recorded');
    },
    75_000,
  );

  it.runIf(redisAvailable('bench:actions smoke'))(
    'npm run bench:actions: team actions on two replicas, visible on the other one, no Clerk read',
    async () => {
      const { code, output } = await runEntry(['bench/actions.ts', '--smoke'], 60_000);
      expect(code, output.slice(-4000)).toBe(0);
      expect(output).toMatch(/\| 0 \|$/m);
      expect(output).toContain('not recorded');
    },
    75_000,
  );
});
