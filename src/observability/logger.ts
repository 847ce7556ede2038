/**
 * Structured JSON logs, one object per line. Callers pass IDs and counts, never tokens or emails.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  /** Lets hot paths skip building fields for a level that is off. */
  enabled(level: LogLevel): boolean;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function describe(value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

export function createLogger(
  level: LogLevel | 'silent' = 'info',
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const threshold = level === 'silent' ? Number.POSITIVE_INFINITY : ORDER[level];
  const emit =
    (at: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[at] < threshold) return;
      const entry: Record<string, unknown> = { time: new Date().toISOString(), level: at, msg: message };
      for (const [key, value] of Object.entries(fields)) entry[key] = describe(value);
      write(`${JSON.stringify(entry)}\n`);
    };
  return {
    enabled: (at) => ORDER[at] >= threshold,
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
  };
}
