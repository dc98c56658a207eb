import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * What every log line written while a unit of work runs carries: the request, message or task it
 * belongs to, and the device once it is known.
 */
export interface LogContext {
  readonly correlationId: string;
  readonly causationId?: string;
  readonly messageId?: string;
  udid?: string;
  /** A device request's check-in MessageType or report Status. */
  messageType?: string;
}

/** The CloudEvents attributes of a bus message that say what it belongs to. */
export interface MessageIdentity {
  id: string;
  subject?: string;
  correlationid?: string;
  causationid?: string;
}

const storage = new AsyncLocalStorage<LogContext>();
const MAX_FIELD_LENGTH = 128;

// Lines written outside any request, message or task (startup, shutdown, a library's own
// callbacks) still need something to group them by: this process's run.
const PROCESS_CORRELATION_ID = `process-${randomUUID()}`;

/** Runs `work` with `context` on every line it logs, including in what it awaits. */
export function runWithLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run({ ...context }, work);
}

/** Runs a task that no request or message started (a timer pass) under an id of its own. */
export function runWithNewLogContext<T>(label: string, work: () => T): T {
  return storage.run({ correlationId: `${label}-${randomUUID()}` }, work);
}

/**
 * Runs the handling of one bus message under its correlation id (the RTS cycle), or under its own
 * id when it belongs to none, so a message's lines can be found from either.
 */
export function runWithMessageContext<T>(envelope: MessageIdentity, work: () => T): T {
  return storage.run(
    {
      correlationId: envelope.correlationid ?? envelope.id,
      messageId: envelope.id,
      ...(envelope.causationid ? { causationId: envelope.causationid } : {}),
      ...(envelope.subject ? { udid: envelope.subject } : {}),
    },
    work,
  );
}

/**
 * Runs `work` in a context of its own that starts as a copy of the current one (or with a fresh
 * correlation id outside any), and hands it that context: what the work annotates (a request's
 * message type, read deep in a service) stays readable to the caller afterwards.
 */
export function runWithChildLogContext<T>(work: (context: Readonly<LogContext>) => T): T {
  const context: LogContext = { ...(storage.getStore() ?? { correlationId: randomUUID() }) };

  return storage.run(context, () => work(context));
}

/**
 * Adds what the work learned about itself (the device, the message type) to the current context;
 * outside any context it does nothing.
 */
export function annotateLogContext(fields: Pick<LogContext, 'udid' | 'messageType'>): void {
  const context = storage.getStore();
  if (!context) {
    return;
  }
  // What a device claims lands on every later line: bounded like any other logged input.
  if (fields.udid !== undefined) {
    context.udid = fields.udid.slice(0, MAX_FIELD_LENGTH);
  }
  if (fields.messageType !== undefined) {
    context.messageType = fields.messageType.slice(0, MAX_FIELD_LENGTH);
  }
}

export function currentLogContext(): Readonly<LogContext> | undefined {
  return storage.getStore();
}

/** The correlation id of lines written outside any context. */
export function processCorrelationId(): string {
  return PROCESS_CORRELATION_ID;
}

/**
 * The context's fields for one log line: always a correlation id, and what else is known. A field
 * the line sets itself takes precedence (the logger merges the line over these).
 */
export function logContextFields(): Record<string, string> {
  const context = storage.getStore();
  if (!context) {
    return { correlationId: PROCESS_CORRELATION_ID };
  }
  const fields: Record<string, string> = { correlationId: context.correlationId };
  if (context.causationId !== undefined) {
    fields.causationId = context.causationId;
  }
  if (context.messageId !== undefined) {
    fields.messageId = context.messageId;
  }
  if (context.udid !== undefined) {
    fields.udid = context.udid;
  }
  if (context.messageType !== undefined) {
    fields.messageType = context.messageType;
  }

  return fields;
}
