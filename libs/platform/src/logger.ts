import { pino, Logger as PinoLogger } from 'pino';

import { logContextFields } from './log-context.js';

export type Logger = PinoLogger;

/**
 * Field names that may hold secrets anywhere in a log line. The logger removes them, so no caller
 * has to remember to: bootstrap tokens, unlock tokens, push magic, Wi-Fi passwords, profile bodies.
 */
const SECRET_FIELDS = [
  'token',
  'bootstrapToken',
  'unlockToken',
  'pushMagic',
  'password',
  'profile',
  'payload',
  'command',
  'body',
  'privateKeyPem',
  'apiKey',
  'bypassCode',
  'challenge',
  'wifiProfileData',
  'mdmProfileData',
  'WiFiProfileData',
  'MDMProfileData',
];

let root: PinoLogger | undefined;

/**
 * Errors as log fields, without what a failed database query carries along: its parameters and
 * query text hold whatever the statement wrote (push tokens, profiles).
 */
export function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
  if (serialized && typeof serialized === 'object') {
    for (const key of ['parameters', 'query', 'driverError']) {
      delete serialized[key];
    }
  }

  return serialized;
}

/**
 * A line's own fields over the context's, except that a field the line leaves undefined (a udid
 * not known yet where it was logged) does not hide the context's value.
 */
function mergeOverContext(line: object, context: object): object {
  const merged = context as Record<string, unknown>;
  for (const [key, value] of Object.entries(line)) {
    if (value !== undefined || !(key in merged)) {
      merged[key] = value;
    }
  }

  return merged;
}

export function rootLogger(): PinoLogger {
  root ??= pino({
    level: 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError },
    // The correlation id (and the device, the message) of whatever is running goes on every
    // line; fields the line sets itself win over these.
    mixin: logContextFields,
    mixinMergeStrategy: mergeOverContext,
    redact: {
      paths: SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
      censor: '[redacted]',
    },
  });

  return root;
}

/** One logger per class or module; `component` names it on every line. */
export function createLogger(component: string): Logger {
  return rootLogger().child({ component });
}

export function setLogLevel(level: string): void {
  rootLogger().level = level;
}

/** Where log lines go instead of stdout until the returned function is called (tests read them). */
export function redirectLogs(destination: { write(line: string): void }): () => void {
  // Every logger is a child of the root and reads the stream through it.
  const root = rootLogger() as unknown as Record<symbol, unknown>;
  const original = root[pino.symbols.streamSym];
  root[pino.symbols.streamSym] = destination;

  return () => {
    root[pino.symbols.streamSym] = original;
  };
}

/**
 * Resolves once the lines logged so far have been written, or after `timeoutMs`. pino writes
 * stdout asynchronously and writes what is left in the process's `exit` event, which a process
 * that ends by re-raising its stop signal (as Nest's shutdown does) never gets.
 */
export function logsWritten(timeoutMs = 1_000): Promise<void> {
  const root = rootLogger() as unknown as Record<symbol, unknown>;
  const stream = root[pino.symbols.streamSym] as {
    write(line: string): unknown;
    once?(event: 'drain', listener: () => void): unknown;
    removeListener?(event: 'drain', listener: () => void): unknown;
  };
  if (typeof stream.once !== 'function') {
    return Promise.resolve();
  }

  return new Promise((done) => {
    const drained = () => {
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      stream.removeListener?.('drain', drained);
      done();
    }, timeoutMs);
    stream.once?.('drain', drained);
    // pino's stream (sonic-boom) reports 'drain' once everything before an empty write is out,
    // whether or not a write was under way.
    stream.write('');
  });
}
