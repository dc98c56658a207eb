import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';

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

  private async onEvent(pattern: string, raw: Envelope): Promise<void> {
    const envelope = readEnvelope(contractFor(pattern), raw);
    await this.handleEvent(pattern, { pattern, data: envelope }, undefined as never);
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
