import type { INestApplicationContext } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { isObservable, lastValueFrom } from 'rxjs';

import { CONTRACTS, Envelope, readEnvelope, ServiceName } from '@turnaround/contracts';

import { SERVICE_TRANSPORTS } from './messaging.module.js';
import { MessageInbox } from './outbox.js';
import { MessageTransport } from './transport.js';

/**
 * Receives messages for one service through @EventPattern / @MessagePattern handlers. Handlers are
 * registered under the service's own transport id, so in the embedded default four servers share
 * one in-process transport and each still consumes as its own group.
 *
 * With an inbox, each event is handled in one unit of work that also records its id: what the
 * handler writes, the events it stages in the outbox and the "handled" mark commit together, and
 * the transport acknowledges only after that commit. A redelivered event is acknowledged unread.
 */
export class BusServer extends Server implements CustomTransportStrategy {
  override readonly propagatesEventHandlerErrors = true;

  constructor(
    readonly service: ServiceName,
    override readonly transportId: symbol,
    private readonly transport: MessageTransport,
    private readonly inbox?: MessageInbox,
  ) {
    super();
  }

  /** The bus server of a service in `app`, recording handled events in the service's inbox. */
  static forService(app: INestApplicationContext, service: ServiceName, transport: MessageTransport): BusServer {
    const inbox = new MessageInbox(app.get<DataSource>(getDataSourceToken(service)));

    return new BusServer(service, SERVICE_TRANSPORTS[service], transport, inbox);
  }

  async listen(callback: (...optionalParams: unknown[]) => void): Promise<void> {
    try {
      const events: string[] = [];
      const requests: string[] = [];
      for (const [pattern, handler] of this.messageHandlers) {
        (handler.isEventHandler ? events : requests).push(pattern);
      }
      // One subscription for all: a consumer that started with some routes would, on a restart
      // with a backlog, receive events for handlers not yet added and dead-letter them.
      if (events.length > 0) {
        await this.transport.subscribe(this.service, events, (envelope) => this.onEvent(envelope.type, envelope));
      }
      if (requests.length > 0) {
        await this.transport.serve(this.service, requests, (envelope) => this.onRequest(envelope));
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {}

  on(): never {
    throw new Error('BusServer has no transport-level events');
  }

  unwrap<T>(): T {
    return this.transport as T;
  }

  /**
   * Our patterns are routing keys, stored as given: a direct lookup. Nest's own first tries each
   * pattern as JSON, and the exception a routing key throws there cost about 1% of an RTS run.
   */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    return this.messageHandlers.get(pattern) ?? super.getHandlerByPattern(pattern);
  }

  /**
   * Nest's own version fires the handler's observable and forgets it, so a failure would look
   * like success and the message would be acknowledged. Here the delivery waits for the handler
   * and fails with its error, which decides retry or dead letter.
   */
  override async handleEvent(pattern: string, packet: { data: unknown }): Promise<void> {
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) {
      throw new Error(`no handler for ${pattern}`);
    }
    const result: unknown = await handler(packet.data);
    if (isObservable(result)) {
      await lastValueFrom(result, { defaultValue: undefined });
    }
  }

  private async onEvent(pattern: string, raw: Envelope): Promise<void> {
    const envelope = readEnvelope(contractFor(pattern), raw);
    if (!this.inbox) {
      await this.handleEvent(pattern, { data: envelope });

      return;
    }
    await this.inbox.handleOnce(envelope, () => this.handleEvent(pattern, { data: envelope }));
  }

  private async onRequest(raw: Envelope): Promise<unknown> {
    const contract = contractFor(raw.type);
    const envelope = readEnvelope(contract, raw);
    const handler = this.getHandlerByPattern(raw.type) as MessageHandler | null;
    if (!handler) {
      throw new Error(`no handler for ${raw.type}`);
    }
    const result = await lastValueFrom(this.transformToObservable(await handler(envelope)));

    return contract.kind === 'request' ? contract.replySchema.parse(result, 'reply') : result;
  }
}

function contractFor(routingKey: string): (typeof CONTRACTS)[number] {
  const contract = CONTRACTS.find((candidate) => candidate.routingKey === routingKey);
  if (!contract) {
    throw new Error(`no contract for ${routingKey}`);
  }

  return contract;
}
