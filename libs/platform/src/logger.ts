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

export function rootLogger(): PinoLogger {
  root ??= pino({
    level: 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
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
