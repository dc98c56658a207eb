import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';

import {
  ClearActivationLock,
  DescribeBootstrapToken,
  FetchBootstrapToken,
  RewrapEscrowKeys,
  StoreActivationLockBypassCode,
  StoreBootstrapToken,
} from '@turnaround/contracts';
import type { Envelope } from '@turnaround/contracts';
import { OnRequest } from '@turnaround/messaging';

import { ActivationLockService } from './activation-lock.service.js';
import type {
  ClearLockReply,
  ClearLockRequest,
  StoreCodeReply,
  StoreCodeRequest,
} from './activation-lock.service.js';
import { EscrowService } from './escrow.service.js';
import type {
  DescribeReply,
  DescribeRequest,
  FetchReply,
  FetchRequest,
  StoreReply,
  StoreRequest,
} from './escrow.service.js';
import { KeyRotationService } from './key-rotation.service.js';
import type { RewrapReply, RewrapRequest } from './key-rotation.service.js';

/** The escrow service's requests; the bus server has validated each envelope against its contract. */
@Controller()
export class EscrowConsumer {
  constructor(
    private readonly activationLock: ActivationLockService,
    private readonly escrow: EscrowService,
    private readonly keyRotation: KeyRotationService,
  ) {}

  @OnRequest(StoreBootstrapToken)
  async store(@Payload() envelope: Envelope<StoreRequest>): Promise<StoreReply> {
    return this.escrow.store(envelope);
  }

  @OnRequest(FetchBootstrapToken)
  async fetch(@Payload() envelope: Envelope<FetchRequest>): Promise<FetchReply> {
    return this.escrow.fetch(envelope);
  }

  @OnRequest(DescribeBootstrapToken)
  async describe(@Payload() envelope: Envelope<DescribeRequest>): Promise<DescribeReply> {
    return this.escrow.describe(envelope);
  }

  @OnRequest(StoreActivationLockBypassCode)
  async storeBypassCode(@Payload() envelope: Envelope<StoreCodeRequest>): Promise<StoreCodeReply> {
    return this.activationLock.storeCode(envelope);
  }

  @OnRequest(ClearActivationLock)
  async clearActivationLock(
    @Payload() envelope: Envelope<ClearLockRequest>,
  ): Promise<ClearLockReply> {
    return this.activationLock.clear(envelope);
  }

  @OnRequest(RewrapEscrowKeys)
  async rewrap(@Payload() envelope: Envelope<RewrapRequest>): Promise<RewrapReply> {
    return this.keyRotation.rewrap(envelope);
  }
}
