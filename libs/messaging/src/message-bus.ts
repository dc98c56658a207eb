import { lastValueFrom } from 'rxjs';

import {
  createEnvelope,
  Envelope,
  EnvelopeContext,
  EventContract,
  RequestContract,
  ServiceName,
} from '@turnaround/contracts';

import { BusClient } from './bus.client.js';
import type { TransactionalOutbox } from './outbox.js';

export interface RequestOptions extends EnvelopeContext {
  timeoutMs?: number;
}

/**
 * What a service uses to talk to the others: typed by the contracts, so a payload that does not
 * match its contract fails where it is built, not where it is received.
 *
 * With an outbox, `publish` writes the event into it, inside the caller's unit of work when there
 * is one (DataGate.transaction): the event is published if and only if that work commits.
 */
export class MessageBus {
  constructor(
    private readonly source: ServiceName,
    private readonly client: BusClient,
    private readonly outbox?: TransactionalOutbox,
  ) {}

  async publish<T>(contract: EventContract<T>, data: T, context: EnvelopeContext): Promise<Envelope<T>> {
    if (contract.producer !== this.source) {
      // Subscribers and the AsyncAPI document rely on each event having one producer.
      throw new Error(`${contract.name} is published by ${contract.producer}, not ${this.source}`);
    }
    const envelope = createEnvelope(contract, this.source, data, context);
    if (this.outbox) {
      await this.outbox.stage(envelope);
    } else {
      await lastValueFrom(this.client.emit(contract.routingKey, { envelope }), { defaultValue: undefined });
    }

    return envelope;
  }

  async request<Q, R>(contract: RequestContract<Q, R>, data: Q, options: RequestOptions): Promise<R> {
    const envelope = createEnvelope(contract, this.source, data, options);
    const reply = await lastValueFrom(
      this.client.send(contract.routingKey, { envelope, timeoutMs: options.timeoutMs }),
    );

    return contract.replySchema.parse(reply, 'reply');
  }
}
