import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import * as amqp from 'amqplib';

import { Envelope } from '@turnaround/contracts';
import { createLogger, runWithMessageContext, SerialLanes } from '@turnaround/platform';

import { deliver } from './delivery.js';
import {
  DEFAULT_RETRY_POLICY,
  describeError,
  EventHandler,
  matchesRoutingKey,
  MessageTransport,
  RemoteRequestError,
  RequestHandler,
  RequestTimeoutError,
  retryDelay,
  RetryPolicy,
} from './transport.js';

const REPLY_QUEUE = 'amq.rabbitmq.reply-to';
const REASON_HEADER = 'x-turnaround-dead-letter-reason';
/** Deliveries of one message (crashes and requeues included) before the broker dead-letters it. */
export const DELIVERY_LIMIT = 10;

interface Route {
  routingKeys: readonly string[];
  handler: EventHandler | RequestHandler;
}

/** One queue of one consumer group, read by one consumer that routes by routing key. */
interface Consumer {
  kind: 'events' | 'requests';
  group: string;
  routes: Route[];
}

interface PendingReply {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export interface AmqpTransportOptions {
  url: string;
  /** Prefix of every exchange and queue (default `turnaround`). */
  namespace?: string;
  prefetch?: number;
  retry?: RetryPolicy;
}

/**
 * RabbitMQ, with the delivery guarantees Nest's built-in RMQ transport does not give by default:
 * persistent messages, publisher confirms, explicit acknowledgement after the handler's unit of
 * work committed, and a dead-letter exchange that records why a message died.
 *
 * Topology, declared here: a topic exchange for events, a direct exchange for requests, and per
 * consuming service a durable quorum queue with a single active consumer, so that however many
 * replicas of a service run, one reads the queue at a time and one device's events are handled in
 * the order they were published (the replicas stand by and take over when it goes). Within that
 * consumer a device's events run one after another while different devices run side by side, and a
 * failed event is retried in place, with backoff, so that a later event of the same device cannot
 * overtake it. Past the retry policy it is dead-lettered with the reason; a message that keeps
 * killing its consumer is dead-lettered by the broker after DELIVERY_LIMIT deliveries.
 */
export class AmqpTransport implements MessageTransport {
  private readonly logger = createLogger('AmqpTransport');
  private readonly consumers: Consumer[] = [];
  private readonly replies = new Map<string, PendingReply>();
  private readonly lanes = new SerialLanes();
  private readonly policy: RetryPolicy;
  private model?: amqp.RecoveringChannelModel;
  private publisher?: amqp.ConfirmChannel;
  private consumer?: amqp.Channel;
  private connected = false;
  private closing = false;
  /** Exchange names of this installation. */
  readonly exchanges: { events: string; requests: string; deadLetter: string };

  constructor(private readonly options: AmqpTransportOptions) {
    this.policy = options.retry ?? DEFAULT_RETRY_POLICY;
    const namespace = options.namespace ?? 'turnaround';
    this.exchanges = { events: `${namespace}.events`, requests: `${namespace}.requests`, deadLetter: `${namespace}.dead-letter` };
  }

  /** The queue a consumer group reads, by kind: events, dead-letter, requests. */
  queueName(group: string, kind: 'events' | 'dead-letter' | 'requests'): string {
    return `${this.options.namespace ?? 'turnaround'}.${group}.${kind}`;
  }

  async connect(): Promise<void> {
    this.model = await amqp.connect(this.options.url, {
      recovery: {
        initialMaxRetries: 20,
        maxDelay: 5_000,
        setup: async (model: amqp.ChannelModel) => this.setUp(model),
      },
    });
    this.model.on('disconnect', (error: Error) => {
      this.connected = false;
      if (!this.closing) {
        this.logger.warn({ reason: error?.message }, 'broker connection lost, reconnecting');
      }
    });
    this.model.on('error', (error: Error) => this.logger.error({ reason: error.message }, 'broker error'));
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.lanes.drain();
    await this.model?.close().catch(() => undefined);
    this.connected = false;
  }

  isHealthy(): boolean {
    return this.connected;
  }

  async publish(envelope: Envelope): Promise<void> {
    const channel = await this.publishingChannel();
    await new Promise<void>((resolve, reject) => {
      channel.publish(this.exchanges.events, envelope.type, Buffer.from(JSON.stringify(envelope)), {
        persistent: true,
        contentType: 'application/cloudevents+json',
        messageId: envelope.id,
        type: envelope.type,
        timestamp: Math.floor(Date.parse(envelope.time) / 1000),
      }, (error) => (error ? reject(new Error(`broker refused ${envelope.type}: ${String(error)}`)) : resolve()));
    });
  }

  async subscribe(group: string, routingKeys: readonly string[], handler: EventHandler): Promise<void> {
    await this.addRoute('events', group, { routingKeys, handler });
  }

  async serve(group: string, routingKeys: readonly string[], handler: RequestHandler): Promise<void> {
    await this.addRoute('requests', group, { routingKeys, handler });
  }

  private async addRoute(kind: Consumer['kind'], group: string, route: Route): Promise<void> {
    const existing = this.consumers.find((entry) => entry.kind === kind && entry.group === group);
    if (existing) {
      existing.routes.push(route);
      if (this.consumer) {
        await this.bind(this.consumer, existing, route.routingKeys);
      }

      return;
    }
    const created: Consumer = { kind, group, routes: [route] };
    this.consumers.push(created);
    if (this.consumer) {
      await this.startConsumer(this.consumer, created);
    }
  }

  private async bind(channel: amqp.Channel, entry: Consumer, routingKeys: readonly string[]): Promise<void> {
    const exchange = entry.kind === 'events' ? this.exchanges.events : this.exchanges.requests;
    for (const key of routingKeys) {
      await channel.bindQueue(this.queueName(entry.group, entry.kind), exchange, key);
    }
  }

  private routeOf(entry: Consumer, routingKey: string): Route | undefined {
    return entry.routes.find((route) => route.routingKeys.some((key) => matchesRoutingKey(key, routingKey)));
  }

  async request(envelope: Envelope, timeoutMs: number): Promise<unknown> {
    const channel = await this.publishingChannel();
    const correlationId = randomUUID();
    const reply = new Promise<unknown>((resolve, reject) => {
      this.replies.set(correlationId, { resolve, reject });
    });
    const timer = setTimeout(() => {
      this.replies.get(correlationId)?.reject(new RequestTimeoutError(envelope.type, timeoutMs));
      this.replies.delete(correlationId);
    }, timeoutMs);
    // Direct reply-to needs the request published on the channel that consumes the replies.
    (this.consumer ?? channel).publish(this.exchanges.requests, envelope.type, Buffer.from(JSON.stringify(envelope)), {
      correlationId,
      replyTo: REPLY_QUEUE,
      expiration: String(timeoutMs),
      contentType: 'application/cloudevents+json',
      messageId: envelope.id,
      type: envelope.type,
    });
    try {
      return await reply;
    } finally {
      clearTimeout(timer);
    }
  }

  private async publishingChannel(): Promise<amqp.ConfirmChannel> {
    for (let waited = 0; !this.publisher || !this.connected; waited += 100) {
      if (this.closing || waited > 10_000) {
        throw Object.assign(new Error('message broker unavailable'), { code: 'BUS.UNAVAILABLE' });
      }
      await sleep(100);
    }

    return this.publisher;
  }

  private async setUp(model: amqp.ChannelModel): Promise<void> {
    const publisher = await model.createConfirmChannel();
    const consumer = await model.createChannel();
    await consumer.prefetch(this.options.prefetch ?? 64);
    await publisher.assertExchange(this.exchanges.events, 'topic', { durable: true });
    await publisher.assertExchange(this.exchanges.requests, 'direct', { durable: true });
    await publisher.assertExchange(this.exchanges.deadLetter, 'topic', { durable: true });
    await consumer.consume(REPLY_QUEUE, (message) => this.onReply(message), { noAck: true });
    for (const entry of this.consumers) {
      await this.startConsumer(consumer, entry);
    }
    this.publisher = publisher;
    this.consumer = consumer;
    this.connected = true;
    this.logger.info({ consumers: this.consumers.length }, 'broker connected');
  }

  private async startConsumer(channel: amqp.Channel, entry: Consumer): Promise<void> {
    const queue = this.queueName(entry.group, entry.kind);
    const keys = entry.routes.flatMap((route) => route.routingKeys);
    if (entry.kind === 'requests') {
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      await this.bind(channel, entry, keys);
      await channel.consume(queue, (message) => message && this.onRequest(channel, entry, message));

      return;
    }
    const deadLetters = this.queueName(entry.group, 'dead-letter');
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-single-active-consumer': true,
        'x-delivery-limit': DELIVERY_LIMIT,
        'x-dead-letter-exchange': this.exchanges.deadLetter,
        'x-dead-letter-routing-key': `${entry.group}.delivery-limit`,
      },
    });
    await channel.assertQueue(deadLetters, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(deadLetters, this.exchanges.deadLetter, `${entry.group}.#`);
    await this.bind(channel, entry, keys);
    await channel.consume(queue, (message) => message && this.onEvent(channel, entry, message));
  }

  private onEvent(channel: amqp.Channel, entry: Consumer, message: amqp.ConsumeMessage): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message.content.toString('utf8')) as Envelope;
    } catch {
      this.deadLetter(channel, entry, message, 'CONTRACT.VIOLATION: body is not JSON');

      return;
    }
    if (typeof envelope !== 'object' || envelope === null || typeof envelope.type !== 'string' || typeof envelope.subject !== 'string') {
      this.deadLetter(channel, entry, message, 'CONTRACT.VIOLATION: not an event envelope (type and subject are required)');

      return;
    }
    const route = this.routeOf(entry, envelope.type);
    if (!route) {
      this.deadLetter(channel, entry, message, `BUS.NO_HANDLER: ${entry.group} has no handler for ${envelope.type}`);

      return;
    }
    void this.lanes.run(`${entry.group}:${envelope.subject}`, async () => {
      const fields = { group: entry.group, type: envelope.type, messageId: envelope.id, udid: envelope.subject };
      for (let attempt = 1; ; attempt += 1) {
        const outcome = await deliver(entry.group, route.handler as EventHandler, envelope, attempt, this.policy);
        if (outcome.action === 'ack') {
          channel.ack(message);

          return;
        }
        if (outcome.action === 'dead-letter' || this.closing) {
          if (this.closing && outcome.action === 'retry') {
            // Shutting down: leave it to the next consumer rather than killing it.
            channel.nack(message, false, true);

            return;
          }
          this.logger.error({ ...fields, attempt, reason: outcome.reason }, 'message dead-lettered');
          this.deadLetter(channel, entry, message, outcome.reason);

          return;
        }
        this.logger.warn({ ...fields, attempt, reason: outcome.reason }, 'message delivery failed, will retry');
        await sleep(retryDelay(this.policy, attempt));
      }
    }).catch((error: unknown) => {
      // Usually the channel closed under a long retry: the broker redelivers the message anyway.
      this.logger.error({ group: entry.group, reason: (error as Error).message }, 'event delivery broke; left to the broker');
      try {
        channel.nack(message, false, true);
      } catch {
        // The channel is gone; so is the delivery.
      }
    });
  }

  private deadLetter(channel: amqp.Channel, entry: Consumer, message: amqp.ConsumeMessage, reason: string): void {
    this.publisher?.publish(this.exchanges.deadLetter, `${entry.group}.${String(message.properties.type ?? message.fields.routingKey)}`, message.content, {
      ...message.properties,
      persistent: true,
      headers: { ...message.properties.headers, [REASON_HEADER]: reason, 'x-turnaround-group': entry.group },
    }, (error) => (error ? channel.nack(message, false, true) : channel.ack(message)));
  }

  private onRequest(channel: amqp.Channel, entry: Consumer, message: amqp.ConsumeMessage): void {
    const { replyTo, correlationId } = message.properties;
    void (async () => {
      let reply: { ok: boolean; value?: unknown; error?: { code: string; message: string } };
      try {
        const envelope = JSON.parse(message.content.toString('utf8')) as Envelope;
        const route = this.routeOf(entry, message.fields.routingKey);
        if (!route) {
          throw new Error(`${entry.group} has no handler for ${message.fields.routingKey}`);
        }
        reply = { ok: true, value: (await runWithMessageContext(envelope, () => (route.handler as RequestHandler)(envelope))) ?? null };
      } catch (error) {
        reply = { ok: false, error: describeError(error) };
      }
      channel.ack(message);
      if (replyTo) {
        this.publisher?.sendToQueue(replyTo, Buffer.from(JSON.stringify(reply)), { correlationId, contentType: 'application/json' });
      }
    })();
  }

  private onReply(message: amqp.ConsumeMessage | null): void {
    const correlationId = message?.properties.correlationId as string | undefined;
    const pending = correlationId ? this.replies.get(correlationId) : undefined;
    if (!message || !pending || !correlationId) {
      return;
    }
    this.replies.delete(correlationId);
    try {
      const reply = JSON.parse(message.content.toString('utf8')) as { ok: boolean; value?: unknown; error?: { code: string; message: string } };
      if (reply.ok) {
        pending.resolve(reply.value);
      } else {
        pending.reject(new RemoteRequestError(reply.error?.code ?? 'INTERNAL', reply.error?.message ?? 'request failed'));
      }
    } catch (error) {
      pending.reject(error as Error);
    }
  }
}
