import { setTimeout as sleep } from 'node:timers/promises';

import { Envelope } from '@turnaround/contracts';
import { createLogger, runWithMessageContext, SerialLanes } from '@turnaround/platform';

import { deliver } from './delivery.js';
import {
  DEFAULT_RETRY_POLICY,
  describeError,
  EventHandler,
  matchesRoutingKey,
  MessageSource,
  MessageTransport,
  NoResponderError,
  RemoteRequestError,
  RequestHandler,
  RequestTimeoutError,
  retryDelay,
  RetryPolicy,
} from './transport.js';

interface Subscription {
  group: string;
  routingKeys: readonly string[];
  handler: EventHandler;
}

export interface DeadLetter {
  group: string;
  envelope: Envelope;
  reason: string;
  at: string;
}

const MAX_KEPT_DEAD_LETTERS = 1000;

/**
 * The embedded default's bus: every service in one process, same semantics as RabbitMQ.
 * Messages are copied through JSON on the way in, so a handler never shares an object with the
 * publisher (as it would not across a broker), and delivery always happens on a later tick.
 */
export class InProcessTransport implements MessageTransport {
  private readonly logger = createLogger('InProcessTransport');
  private readonly subscriptions: Subscription[] = [];
  /** Per consumer group, one lane per device: a group sees one device's events in order. */
  private readonly lanes = new Map<string, SerialLanes>();
  private readonly responders = new Map<string, RequestHandler>();
  private readonly pending = new Set<Promise<void>>();
  private readonly kept: DeadLetter[] = [];
  private readonly sources = new Set<MessageSource>();
  private closed = false;

  constructor(private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY) {}

  async connect(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  isHealthy(): boolean {
    return !this.closed;
  }

  async publish(envelope: Envelope): Promise<void> {
    const wire = JSON.stringify(envelope);
    for (const subscription of this.subscriptions) {
      if (subscription.routingKeys.some((key) => matchesRoutingKey(key, envelope.type))) {
        this.track(
          this.lanesOf(subscription.group).run(envelope.subject, () =>
            this.deliverWithRetry(subscription, JSON.parse(wire) as Envelope),
          ),
        );
      }
    }
  }

  async subscribe(group: string, routingKeys: readonly string[], handler: EventHandler): Promise<void> {
    this.subscriptions.push({ group, routingKeys, handler });
  }

  private lanesOf(group: string): SerialLanes {
    let lanes = this.lanes.get(group);
    if (!lanes) {
      lanes = new SerialLanes();
      this.lanes.set(group, lanes);
    }

    return lanes;
  }

  async serve(_group: string, routingKeys: readonly string[], handler: RequestHandler): Promise<void> {
    for (const key of routingKeys) {
      if (this.responders.has(key)) {
        throw new Error(`two responders for ${key}`);
      }
      this.responders.set(key, handler);
    }
  }

  async request(envelope: Envelope, timeoutMs: number): Promise<unknown> {
    const responder = this.responders.get(envelope.type);
    if (!responder) {
      throw new NoResponderError(envelope.type);
    }
    const copy = JSON.parse(JSON.stringify(envelope)) as Envelope;
    const reply = (async () => {
      await sleep(0);
      try {
        return { ok: true as const, value: JSON.parse(JSON.stringify((await runWithMessageContext(copy, () => responder(copy))) ?? null)) };
      } catch (error) {
        return { ok: false as const, error: describeError(error) };
      }
    })();
    // A plain timer rather than an abortable sleep: aborting one builds an AbortError with its
    // stack for every request answered in time, which showed in profiles of RTS runs.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new RequestTimeoutError(envelope.type, timeoutMs)), timeoutMs);
    });
    const outcome = await Promise.race([reply, timeout]).finally(() => clearTimeout(timer));
    if (!outcome.ok) {
      throw new RemoteRequestError(outcome.error.code, outcome.error.message);
    }

    return outcome.value;
  }

  /** Dead letters kept for inspection (the newest last). */
  deadLetters(): readonly DeadLetter[] {
    return this.kept;
  }

  attachSource(source: MessageSource): void {
    this.sources.add(source);
  }

  /**
   * Resolves once nothing is in flight: no delivery running and no attached outbox holding a
   * message (a handler's events are staged in its outbox first). Tests and shutdown use it.
   */
  async idle(): Promise<void> {
    for (;;) {
      while (this.pending.size > 0) {
        await Promise.allSettled([...this.pending]);
      }
      let published = 0;
      for (const source of this.sources) {
        published += await source.drain().catch(() => 0);
      }
      if (published === 0 && this.pending.size === 0) {
        return;
      }
    }
  }

  private track(delivery: Promise<void>): void {
    const tracked = delivery.catch(() => undefined);
    this.pending.add(tracked);
    void tracked.then(() => this.pending.delete(tracked));
  }

  private async deliverWithRetry(subscription: Subscription, envelope: Envelope): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      await sleep(0);
      const outcome = await deliver(subscription.group, subscription.handler, envelope, attempt, this.policy);
      if (outcome.action === 'ack') {
        return;
      }
      const fields = { group: subscription.group, type: envelope.type, messageId: envelope.id, udid: envelope.subject, attempt, reason: outcome.reason };
      if (outcome.action === 'dead-letter' || this.closed) {
        this.logger.error(fields, 'message dead-lettered');
        this.kept.push({ group: subscription.group, envelope, reason: outcome.reason, at: new Date().toISOString() });
        if (this.kept.length > MAX_KEPT_DEAD_LETTERS) {
          this.kept.shift();
        }

        return;
      }
      this.logger.warn(fields, 'message delivery failed, will retry');
      await sleep(retryDelay(this.policy, attempt));
    }
  }
}
