import { pino, Logger as PinoLogger } from 'pino';

import { logContextFields } from './log-context.js';

export type Logger = PinoLogger;

/**
 * Field names that may hold secrets in a log line, on the line itself or up to two levels down.
 * The logger censors them, so no caller has to remember to: bootstrap tokens, unlock tokens, push
 * magic, Wi-Fi passwords, profile bodies.
 */
const SECRET_FIELDS = new Set([
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
]);

const CENSOR = '[redacted]';

/** How far below a line's own fields a secret field is still found: `field`, `*.field`, `*.*.field`. */
const SECRET_DEPTH = 2;

/**
 * `value` with every secret field (see SECRET_FIELDS) at most SECRET_DEPTH levels down replaced by
 * the censor. The caller's objects are never changed: what holds a secret is copied, the rest is
 * shared. Only plain objects and arrays are entered; anything else (an Error, a Buffer) is left to
 * its serializer.
 *
 * pino's own redaction does the same from a list of paths, but its wildcard paths cost about 25 µs
 * a line (six times the rest of the line), and a busy service logs dozens of lines per RTS cycle.
 */
export function withoutSecrets<T>(value: T, depth = 0): T {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const censored = depth < SECRET_DEPTH ? withoutSecrets(item, depth + 1) : item;
      if (censored !== item) {
        copy ??= [...value];
        copy[index] = censored;
      }
    });

    return (copy ?? value) as T;
  }
  if (!isPlainObject(value)) {
    return value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    let censored = field;
    if (SECRET_FIELDS.has(key)) {
      censored = field === undefined ? field : CENSOR;
    } else if (depth < SECRET_DEPTH && field !== null && typeof field === 'object') {
      censored = withoutSecrets(field, depth + 1);
    }
    if (censored !== field) {
      copy ??= { ...value };
      copy[key] = censored;
    }
  }

  return (copy ?? value) as T;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') {
    return false;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;

  return prototype === Object.prototype || prototype === null;
}

let root: PinoLogger | undefined;

/**
 * Errors as log fields, without what a failed database query carries along: its parameters and
 * query text hold whatever the statement wrote (push tokens, profiles).
 */
export function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown;
  if (!serialized || typeof serialized !== 'object') {
    return serialized;
  }
  // A plain copy of its own fields (what is printed), so that the secret fields an error carries
  // are censored too.
  const { parameters, query, driverError, ...printed } = serialized as Record<string, unknown>;

  return withoutSecrets(printed);
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
    formatters: {
      level: (label) => ({ level: label }),
      log: (line) => withoutSecrets(line),
      bindings: (bindings) => withoutSecrets(bindings),
    },
    serializers: { err: serializeError },
    // The correlation id (and the device, the message) of whatever is running goes on every
    // line; fields the line sets itself win over these.
    mixin: logContextFields,
    mixinMergeStrategy: mergeOverContext,
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
