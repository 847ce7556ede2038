/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and sums self time per function (name + url:line) and
 * per package, without any tool: a sample's time is the delta to the next sample, charged to the sampled node.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeEntry {
  key: string;
  selfMs: number;
  /** Share of the profile's busy (non-idle) time. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  functions: SelfTimeEntry[];
  packages: SelfTimeEntry[];
  /** Our own code (dist/ or src/) by total time: the function and everything it called. */
  ownByTotal: SelfTimeEntry[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function shortUrl(url: string, root: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  return path.startsWith('/') ? relative(root, path) : path;
}

/** node_modules/@scope/name or node_modules/name, else the first two path segments (dist/team, node:…). */
function packageOf(url: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match?.[1]) return match[1];
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node: (core)';
  const parts = url.split('/');
  return parts.length > 1 ? parts.slice(0, 2).join('/') : url;
}

/**
 * `window` keeps only samples taken between `fromEndMs` and `toEndMs` before the end of the profile (the measured
 * period, located from the harness's clock relative to when it stopped the process), leaving out start-up
 * (module compilation) and warm-up.
 */
export function summarizeProfile(
  file: string,
  root: string,
  top = 15,
  window?: { fromEndMs: number; toEndMs: number },
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfByNode = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  const from = window ? profile.endTime - window.fromEndMs * 1000 : Number.NEGATIVE_INFINITY;
  const to = window ? profile.endTime - window.toEndMs * 1000 : Number.POSITIVE_INFINITY;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
    // timeDeltas[i] is the time before sample i; the time after it (until the next one) belongs to it.
    const delta = i + 1 < timeDeltas.length ? (timeDeltas[i + 1] ?? 0) : 0;
    const id = samples[i] ?? 0;
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + Math.max(0, delta));
  }
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfByNode) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const url = shortUrl(frame.url, root);
    const name = frame.functionName || '(anonymous)';
    const key = SPECIAL.has(name) ? name : `${name} ${url}:${frame.lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    const pkg = SPECIAL.has(name) ? name : packageOf(url);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;

  // Total (inclusive) time of our own functions; a function on the stack twice (recursion) is counted once.
  const keyOf = (frame: CallFrame) =>
    `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url, root)}:${frame.lineNumber + 1}`;
  const own = (frame: CallFrame) => /^(dist|src)\//.test(shortUrl(frame.url, root));
  const ownTotals = new Map<string, number>();
  const inclusive = new Map<number, number>();
  const totalOf = (id: number): number => {
    const known = inclusive.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let sum = selfByNode.get(id) ?? 0;
    for (const child of node?.children ?? []) sum += totalOf(child);
    inclusive.set(id, sum);
    return sum;
  };
  const onStack = new Map<string, number>();
  const walk = (id: number) => {
    const node = byId.get(id);
    if (!node) return;
    const mine = own(node.callFrame) ? keyOf(node.callFrame) : undefined;
    if (mine !== undefined) {
      if (!onStack.get(mine)) ownTotals.set(mine, (ownTotals.get(mine) ?? 0) + totalOf(id));
      onStack.set(mine, (onStack.get(mine) ?? 0) + 1);
    }
    for (const child of node.children ?? []) walk(child);
    if (mine !== undefined) onStack.set(mine, (onStack.get(mine) ?? 1) - 1);
  };
  const first = profile.nodes[0];
  if (first) walk(first.id);
  const rank = (map: Map<string, number>, n: number): SelfTimeEntry[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => ({ key, selfMs: us / 1000, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return {
    file,
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    busyMs: busyUs / 1000,
    functions: rank(functions, top),
    packages: rank(packages, 12),
    ownByTotal: rank(ownTotals, 10),
  };
}

export function profileMarkdown(summary: ProfileSummary, root: string): string {
  const lines = [
    `Profile \`${relative(root, summary.file)}\`: ${summary.totalMs.toFixed(0)} ms sampled, ` +
      `${summary.busyMs.toFixed(0)} ms busy (${summary.idleMs.toFixed(0)} ms idle). Percentages are of busy time.`,
    '',
    '| # | self ms | % busy | function (url:line) |',
    '| --: | --: | --: | --- |',
    ...summary.functions.map(
      (entry, i) =>
        `| ${i + 1} | ${entry.selfMs.toFixed(1)} | ${entry.percent.toFixed(1)} | \`${entry.key}\` |`,
    ),
    '',
    '| package / area | self ms | % busy |',
    '| --- | --: | --: |',
    ...summary.packages.map(
      (entry) => `| ${entry.key} | ${entry.selfMs.toFixed(1)} | ${entry.percent.toFixed(1)} |`,
    ),
    '',
    '| our code, by total time (self + callees) | total ms | % busy |',
    '| --- | --: | --: |',
    ...summary.ownByTotal.map(
      (entry) => `| \`${entry.key}\` | ${entry.selfMs.toFixed(1)} | ${entry.percent.toFixed(1)} |`,
    ),
  ];
  return lines.join('\n');
}
