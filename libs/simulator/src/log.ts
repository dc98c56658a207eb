export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export type LogFields = Record<string, unknown>;

/** The simulator's log: one line per event, a constant message plus fields, on stderr. */
export interface SimulatorLog {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface LineSink {
  write(line: string): void;
}

function render(fields: LogFields): string {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(
      ([key, value]) =>
        `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`,
    )
    .join(' ');
}

/** A log that writes lines at or above `level` to `sink` (stdout stays free for the report). */
export function createLog(sink: LineSink, level: LogLevel): SimulatorLog {
  const emit = (at: LogLevel, message: string, fields: LogFields = {}): void => {
    if (RANK[at] < RANK[level]) {
      return;
    }

    const rest = render(fields);

    sink.write(
      `${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${message}${rest ? ` ${rest}` : ''}\n`,
    );
  };

  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

export const silentLog: SimulatorLog = createLog({ write: () => undefined }, 'silent');
