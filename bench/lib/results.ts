/**
 * Where a bench entry writes its report. Nowhere by default: a run prints its tables and exits non-zero when a
 * target fails, and the committed `bench/results/` change only when someone means to record a run (`--record`, on
 * a quiet machine). `--out-dir DIR` writes to DIR instead (the smoke test uses a temporary one).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './stack.js';

/** The two options every bench entry takes for its report. */
export const RESULTS_OPTIONS = {
  record: { type: 'boolean', default: false },
  'out-dir': { type: 'string' },
} as const;

export interface ResultsDestination {
  /** The folder written to, or undefined when the run only prints. */
  dir: string | undefined;
  /** Writes each file (name → text) there; nothing without a folder. Returns what it wrote, for the log. */
  write(files: Record<string, string>): string[];
}

export function resultsDestination(options: { record?: boolean; 'out-dir'?: string }): ResultsDestination {
  const dir = options['out-dir'] ?? (options.record ? join(ROOT, 'bench', 'results') : undefined);
  return {
    dir,
    write(files) {
      if (!dir) return [];
      mkdirSync(dir, { recursive: true });
      return Object.entries(files).map(([name, text]) => {
        const path = join(dir, name);
        writeFileSync(path, text);
        return path;
      });
    },
  };
}
