/**
 * `--profile` / `--profile-ceiling`: the cache-hit load against the server (or the same load against the bare Yoga
 * ceiling) running under `--cpu-prof`; prints and writes the top self-time functions of the measured period.
 */
import { mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fixtures } from './fixtures.js';
import { createLoadRunner, steadyLoad } from './load.js';
import type { Mode } from './modes.js';
import type { Child } from './processes.js';
import { stopAll } from './processes.js';
import { profileMarkdown, summarizeProfile } from './profile.js';
import type { LoadResult } from './protocol.js';
import { CEILING_BODY, checkQuery, teamQuery } from './queries.js';
import { machine, stamp } from './report.js';
import type { ResultsDestination } from './results.js';
import { errorCount } from './rows.js';
import { type Launch, ROOT, startCeiling, startStack } from './stack.js';

export interface ProfileOptions {
  mode: Mode;
  launch: Launch;
  /** Profile the bare Yoga ceiling instead of the server (what Yoga itself costs). */
  ceiling: boolean;
  /** Where the summary goes (nowhere without --record / --out-dir; the raw profiles then go to a temporary folder). */
  results: ResultsDestination;
  log: (message: string) => void;
}

export async function runProfile({ mode, launch, ceiling, results, log }: ProfileOptions): Promise<number> {
  const date = new Date();
  const host = machine(ROOT);
  const profileDir = results.dir
    ? join(results.dir, 'profiles')
    : mkdtempSync(join(tmpdir(), 'bench-profile-'));
  mkdirSync(profileDir, { recursive: true });
  const startedAt = Date.now();
  const profileFlags = ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const load = createLoadRunner();
  const window = { start: 0, end: 0 };
  const markStart = async () => {
    window.start = Date.now();
  };
  let target: Child;
  let result: LoadResult;
  let what: string;
  if (ceiling) {
    // The same load against the bare Yoga ceiling, to tell Yoga's own costs from the server's.
    what = 'ceiling (bare Yoga)';
    const server = await startCeiling(launch, profileFlags);
    target = server.child;
    log(`profiling the ceiling (${mode.warmupSeconds} s warm-up, ${mode.measureSeconds} s measured)`);
    result = await load.run(steadyLoad(mode, 'ceiling', server.url, 'none', CEILING_BODY), markStart);
  } else {
    what = 'server, cache hit';
    const stack = await startStack(launch, { extraNodeArgs: profileFlags });
    target = stack.server;
    const { organizationId, token } = await new Fixtures(stack.emu).hit();
    const body = teamQuery(organizationId);
    await checkQuery(stack.serverUrl, token, body, 'hit');
    log(
      `profiling the cache-hit scenario (${mode.warmupSeconds} s warm-up, ${mode.measureSeconds} s measured)`,
    );
    result = await load.run(steadyLoad(mode, 'hit', stack.serverUrl, token, body), markStart);
  }
  window.end = Date.now();
  // The profile ends when the process exits, a few ms after this (graceful shutdown): close enough to locate the
  // measured period from the end of the profile.
  const stoppedAt = Date.now();
  await target.stop(20_000);
  await stopAll();

  const files = readdirSync(profileDir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(profileDir, name))
    .filter((file) => statSync(file).mtimeMs >= startedAt)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const file = files[0];
  if (!file) throw new Error(`the ${what} process wrote no .cpuprofile to ${profileDir}`);
  // Only the measured period: start-up and warm-up (module compilation, first-time JIT) are left out.
  const summary = summarizeProfile(file, ROOT, 15, {
    fromEndMs: stoppedAt - window.start,
    toEndMs: stoppedAt - window.end,
  });
  const markdown = [
    `## Profile: ${what}`,
    '',
    `${date.toISOString()} · ${host.cpus} × ${host.cpuModel} · Node ${process.version} · commit ${host.commit} · ` +
      `under --cpu-prof: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.latency.p50.toFixed(2)} ms, ` +
      `p99 ${result.latency.p99.toFixed(2)} ms, ${errorCount(result)} errors (profiling slows it down)`,
    '',
    profileMarkdown(summary, ROOT),
    '',
  ].join('\n');
  process.stdout.write(`\n${markdown}\n`);
  const kind = ceiling ? 'profile-ceiling' : 'profile';
  const written = results.write({
    [`${kind}-${stamp(date)}.md`]: markdown,
    [`${kind}-latest.md`]: markdown,
    [`${kind}-latest.json`]: JSON.stringify({ date, what, summary, result }, null, 2),
  });
  log(written.length ? `wrote ${written.join(', ')}` : `not recorded; the raw profile is ${file}`);
  return 0;
}
