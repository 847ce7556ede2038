/**
 * Keeps the benchmark harness working: runs `bench/run.ts --smoke` (every scenario once with sub-second periods,
 * tiny data and one load worker; the server from src/ through tsx, so no build) and checks that it completes and
 * writes a report with every scenario. No timing assertions: smoke numbers mean nothing, and this machine may be
 * busy with other suites.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../bench/scenarios/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('benchmark harness (smoke mode)', () => {
  let outDir = '';
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('runs every scenario and writes the report', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--smoke', '--entry', 'src', '--out-dir', outDir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    const code = await new Promise<number | null>((resolve) =>
      child.once('exit', (exitCode) => resolve(exitCode)),
    );
    clearTimeout(timer);
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
});
