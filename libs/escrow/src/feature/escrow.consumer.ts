import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';

import { FetchBootstrapToken, StoreBootstrapToken } from '@turnaround/contracts';
import type { Envelope } from '@turnaround/contracts';
import { OnRequest } from '@turnaround/messaging';

import { EscrowService } from './escrow.service.js';
import type { FetchReply, FetchRequest, StoreReply, StoreRequest } from './escrow.service.js';

/** The escrow service's requests; the bus server has validated each envelope against its contract. */
@Controller()
export class EscrowConsumer {
  constructor(private readonly escrow: EscrowService) {}

  @OnRequest(StoreBootstrapToken)
  async store(@Payload() envelope: Envelope<StoreRequest>): Promise<StoreReply> {
    return this.escrow.store(envelope);
  }

  @OnRequest(FetchBootstrapToken)
  async fetch(@Payload() envelope: Envelope<FetchRequest>): Promise<FetchReply> {
    return this.escrow.fetch(envelope);
  }
}
