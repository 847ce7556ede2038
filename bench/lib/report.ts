/** The benchmark report: one markdown table of scenarios, one of targets, and the machine it ran on. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export interface ScenarioRow {
  id: number;
  name: string;
  connections: string;
  requestsPerSecond?: number | undefined;
  p50?: number | undefined;
  p97_5?: number | undefined;
  p99?: number | undefined;
  errors?: number | undefined;
  clerkCalls?: string | undefined;
  notes: string;
  /** The scenario could not be run (harness or server failure): the message. */
  failure?: string | undefined;
}

export interface TargetRow {
  target: string;
  measured: string;
  /** null: could not be measured. */
  pass: boolean | null;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  commit: string;
}

export function machine(root: string): Machine {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: root,
      encoding: 'utf8',
    });
    if (dirty.trim() !== '') commit += ' + uncommitted changes in src/';
  } catch {
    // not a git checkout
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit,
  };
}

const ms = (value: number | undefined) =>
  value === undefined ? '–' : value < 10 ? value.toFixed(2) : value.toFixed(1);
const rate = (value: number | undefined) =>
  value === undefined ? '–' : Math.round(value).toLocaleString('en-US');
const verdict = (pass: boolean | null) => (pass === null ? 'n/a' : pass ? '✅ pass' : '❌ FAIL');

export function renderMarkdown(options: {
  title: string;
  machine: Machine;
  mode: string;
  settings: string;
  rows: ScenarioRow[];
  ratio: number | undefined;
  targets: TargetRow[];
  date: Date;
  /** Other load on the machine, e.g. the 1-minute load average before and after the run. */
  load: string;
}): string {
  const { machine: m } = options;
  const lines = [
    `## ${options.title}`,
    '',
    `${options.date.toISOString()} · mode **${options.mode}** · ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB · ` +
      `Node ${m.node} (${m.platform}) · commit ${m.commit} · ${options.load}`,
    '',
    options.settings,
    '',
    '| # | scenario | conns | req/s | p50 ms | p97.5 ms | p99 ms | errors | Clerk calls | notes |',
    '| --: | --- | --: | --: | --: | --: | --: | --: | --- | --- |',
    ...options.rows.map((row) =>
      row.failure
        ? `| ${row.id} | ${row.name} | ${row.connections} | – | – | – | – | – | – | **not measured**: ${cell(row.failure)} |`
        : `| ${row.id} | ${row.name} | ${row.connections} | ${rate(row.requestsPerSecond)} | ${ms(row.p50)} | ` +
          `${ms(row.p97_5)} | ${ms(row.p99)} | ${row.errors ?? '–'} | ${row.clerkCalls ?? '–'} | ${cell(row.notes)} |`,
    ),
    '',
    `Ratio cache hit (2) / ceiling (1): **${options.ratio === undefined ? 'n/a' : options.ratio.toFixed(3)}**`,
    '',
    '| target | measured | result |',
    '| --- | --- | --- |',
    ...options.targets.map((t) => `| ${cell(t.target)} | ${cell(t.measured)} | ${verdict(t.pass)} |`),
    '',
  ];
  return lines.join('\n');
}

/** A file-name-safe timestamp for a results file. */
export function stamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
