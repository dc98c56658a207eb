import { pino, Logger as PinoLogger } from 'pino';

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

export function rootLogger(): PinoLogger {
  root ??= pino({
    level: 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError },
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
