import { DynamicModule, Module } from '@nestjs/common';

import { MessageTransport, MessagingModule } from '@turnaround/messaging';
import { persistenceFor, TurnaroundConfig } from '@turnaround/platform';

import { ESCROW_ENTITIES } from './data-access/escrow.entities.js';
import { EscrowRepository } from './data-access/escrow.repository.js';
import { TokenSealer } from './domain/token-sealing.js';
import { EscrowConsumer } from './feature/escrow.consumer.js';
import { EscrowStatusService } from './feature/escrow-status.service.js';
import { EscrowService } from './feature/escrow.service.js';

/** The escrow service: bootstrap tokens sealed at rest, versioned, every access audited. */
@Module({})
export class EscrowModule {
  /** Throws at registration when the escrow key is not 32 bytes, so a bad key stops the boot. */
  static register(config: TurnaroundConfig, transport: MessageTransport): DynamicModule {
    return {
      module: EscrowModule,
      imports: [
        ...persistenceFor('escrow', config, ESCROW_ENTITIES),
        MessagingModule.forService('escrow', transport),
      ],
      controllers: [EscrowConsumer],
      providers: [
        // TODO(#3): the one place the escrow key enters the service; a key ring replaces it.
        { provide: TokenSealer, useValue: new TokenSealer(config.escrowKey) },
        EscrowRepository,
        EscrowService,
        EscrowStatusService,
      ],
      exports: [EscrowStatusService],
    };
  }
}
