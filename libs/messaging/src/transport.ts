import { Envelope } from '@turnaround/contracts';

export type EventHandler = (envelope: Envelope) => Promise<void>;
export type RequestHandler = (envelope: Envelope) => Promise<unknown>;

/**
 * What a bus must do for the services. Both transports keep the same semantics, so the services
 * behave alike embedded and distributed: asynchronous delivery; at-least-once to every consumer
 * group; events of one subject (device) handled in order within a group; failed deliveries
 * retried with backoff and then dead-lettered with the reason; requests answered by exactly one
 * responder or failed after a timeout.
 */
export interface MessageTransport {
  connect(): Promise<void>;
  close(): Promise<void>;
  publish(envelope: Envelope): Promise<void>;
  subscribe(group: string, routingKeys: readonly string[], handler: EventHandler): Promise<void>;
  serve(group: string, routingKeys: readonly string[], handler: RequestHandler): Promise<void>;
  request(envelope: Envelope, timeoutMs: number): Promise<unknown>;
  /** Whether the transport can carry messages now (used by readiness checks). */
  isHealthy(): boolean;
  /**
   * A producer whose staged messages count as in flight: the in-process bus waits for it in
   * `idle()` (an outbox relay in the same process).
   */
  attachSource?(source: MessageSource): void;
}

export interface MessageSource {
  /** Publishes everything waiting; resolves with how many went out. */
  drain(): Promise<number>;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 10_000 };

export function retryDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

export class RequestTimeoutError extends Error {
  readonly code = 'BUS.REQUEST_TIMEOUT';

  constructor(routingKey: string, timeoutMs: number) {
    super(`no reply to ${routingKey} within ${timeoutMs} ms`);
  }
}

export class NoResponderError extends Error {
  readonly code = 'BUS.NO_RESPONDER';

  constructor(routingKey: string) {
    super(`no service answers ${routingKey}`);
  }
}

/** An error a responder sent back in place of a reply. */
export class RemoteRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Turns an error into what travels back to a requester. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const code = (error as { code?: unknown }).code;

    return { code: typeof code === 'string' ? code : 'INTERNAL', message: String((error as { message: unknown }).message) };
  }

  return { code: 'INTERNAL', message: String(error) };
}

/** AMQP topic matching: `*` is one word, `#` is zero or more words. */
export function matchesRoutingKey(pattern: string, routingKey: string): boolean {
  if (pattern === routingKey || pattern === '#') {
    return true;
  }
  const p = pattern.split('.');
  const k = routingKey.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) {
      return j === k.length;
    }
    if (p[i] === '#') {
      return match(i + 1, j) || (j < k.length && match(i, j + 1));
    }

    return j < k.length && (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
  };

  return match(0, 0);
}
