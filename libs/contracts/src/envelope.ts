import { randomUUID } from 'node:crypto';

import { ContractViolation, Schema } from './schema.js';

/** The services that publish and consume messages; also the consumer group names. */
export type ServiceName = 'checkin' | 'commands' | 'escrow' | 'provisioning';

/**
 * The envelope every message travels in: a CloudEvents 1.0 event in JSON structured mode, so any
 * CloudEvents SDK can read what other services subscribe to. `subject` is always the device (UDID);
 * `type` is the routing key. Correlation and causation travel as extension attributes, whose names
 * CloudEvents restricts to lower-case letters and digits.
 */
export interface Envelope<T = unknown> {
  specversion: '1.0';
  id: string;
  type: string;
  source: ServiceName;
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  /** The RTS cycle (or other workflow) this message belongs to. */
  correlationid?: string;
  /** The message, command or request that caused this one. */
  causationid?: string;
  data: T;
}

export interface EnvelopeContext {
  subject: string;
  correlationId?: string;
  causationId?: string;
}

/** An event: published once, delivered at least once to every subscribing service. */
export interface EventContract<T> {
  readonly kind: 'event';
  readonly name: string;
  readonly routingKey: string;
  /** The service that publishes it. */
  readonly producer: ServiceName;
  readonly schema: Schema<T>;
}

/** A request with exactly one reply, answered by the service that owns the data. */
export interface RequestContract<Q, R> {
  readonly kind: 'request';
  readonly name: string;
  readonly routingKey: string;
  readonly owner: ServiceName;
  readonly schema: Schema<Q>;
  readonly replySchema: Schema<R>;
}

const ROUTING_KEY = /^[a-z]+\.[a-z-]+\.[a-z-]+\.v[1-9][0-9]*$/;

function checkRoutingKey(routingKey: string): string {
  if (!ROUTING_KEY.test(routingKey)) {
    throw new Error(`routing key ${routingKey} is not <context>.<entity>.<event>.v<N>`);
  }

  return routingKey;
}

/**
 * `producer`: the one service that publishes it. Usually the routing key's context, but not
 * always: a request to change the commands service's queue is named in its context and sent by
 * provisioning.
 */
export function defineEvent<T>(
  name: string,
  routingKey: string,
  producer: ServiceName,
  schema: Schema<T>,
): EventContract<T> {
  return { kind: 'event', name, routingKey: checkRoutingKey(routingKey), producer, schema };
}

export function defineRequest<Q, R>(
  name: string,
  routingKey: string,
  owner: ServiceName,
  schema: Schema<Q>,
  replySchema: Schema<R>,
): RequestContract<Q, R> {
  return { kind: 'request', name, routingKey: checkRoutingKey(routingKey), owner, schema, replySchema };
}

export function createEnvelope<T>(
  contract: { routingKey: string; schema: Schema<T> },
  source: ServiceName,
  data: T,
  context: EnvelopeContext,
): Envelope<T> {
  return {
    specversion: '1.0',
    id: randomUUID(),
    type: contract.routingKey,
    source,
    time: new Date().toISOString(),
    subject: context.subject,
    datacontenttype: 'application/json',
    ...(context.correlationId ? { correlationid: context.correlationId } : {}),
    ...(context.causationId ? { causationid: context.causationId } : {}),
    data: contract.schema.parse(data, 'data'),
  };
}

/** Checks an incoming envelope against its contract; throws ContractViolation with the path. */
export function readEnvelope<T>(contract: { schema: Schema<T> }, value: unknown): Envelope<T> {
  if (typeof value !== 'object' || value === null) {
    throw new ContractViolation('', 'envelope object');
  }
  const envelope = value as Record<string, unknown>;
  if (envelope.specversion !== '1.0') {
    throw new ContractViolation('specversion', 'CloudEvents specversion 1.0');
  }
  for (const key of ['id', 'type', 'source', 'time', 'subject'] as const) {
    if (typeof envelope[key] !== 'string' || envelope[key] === '') {
      throw new ContractViolation(key, 'non-empty string');
    }
  }
  if (envelope.datacontenttype !== undefined && envelope.datacontenttype !== 'application/json') {
    throw new ContractViolation('datacontenttype', 'application/json');
  }
  for (const key of ['correlationid', 'causationid'] as const) {
    if (envelope[key] !== undefined && typeof envelope[key] !== 'string') {
      throw new ContractViolation(key, 'string');
    }
  }

  return { ...(envelope as unknown as Envelope<unknown>), data: contract.schema.parse(envelope.data, 'data') };
}

/** The payload type of a contract: `DataOf<typeof DeviceEnrolled>`. */
export type DataOf<C> =
  C extends EventContract<infer T> ? T : C extends RequestContract<infer Q, unknown> ? Q : never;

/** The reply type of a request contract. */
export type ReplyOf<C> = C extends RequestContract<unknown, infer R> ? R : never;
