import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';

import { CONTRACTS, Envelope, readEnvelope, ServiceName } from '@turnaround/contracts';

import { MessageTransport } from './transport.js';

/**
 * Receives messages for one service through @EventPattern / @MessagePattern handlers. Handlers are
 * registered under the service's own transport id, so in the embedded default four servers share
 * one in-process transport and each still consumes as its own group.
 */
export class BusServer extends Server implements CustomTransportStrategy {
  override readonly propagatesEventHandlerErrors = true;

  constructor(
    readonly service: ServiceName,
    override readonly transportId: symbol,
    private readonly transport: MessageTransport,
  ) {
    super();
  }

  async listen(callback: (...optionalParams: unknown[]) => void): Promise<void> {
    try {
      const events: string[] = [];
      const requests: string[] = [];
      for (const [pattern, handler] of this.messageHandlers) {
        (handler.isEventHandler ? events : requests).push(pattern);
      }
      for (const pattern of events) {
        await this.transport.subscribe(this.service, [pattern], (envelope) => this.onEvent(pattern, envelope));
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
    await this.handleEvent(pattern, { data: envelope });
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
