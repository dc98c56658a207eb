import { DynamicModule, Module } from '@nestjs/common';

import { MessageTransport, MessagingModule } from '@turnaround/messaging';
import { ADOPTED_ESCROW_KEY_ID, persistenceFor, TurnaroundConfig } from '@turnaround/platform';

import { ActivationLockRepository } from './data-access/activation-lock.repository.js';
import { AuditRetentionRepository } from './data-access/audit-retention.repository.js';
import { ESCROW_SCHEMA } from './data-access/migrations/escrow.schema.js';
import { EscrowRepository } from './data-access/escrow.repository.js';
import { KeyRing } from './domain/key-ring.js';
import { SecretSealer } from './domain/secret-sealing.js';
import { ActivationLockService, UnlockOrganization } from './feature/activation-lock.service.js';
import { EscrowConsumer } from './feature/escrow.consumer.js';
import { EscrowStatusService } from './feature/escrow-status.service.js';
import { EscrowService } from './feature/escrow.service.js';
import { KeyRotationService } from './feature/key-rotation.service.js';
import { EscrowRetentionService } from './feature/retention.service.js';

/**
 * The escrow service: bootstrap tokens and Activation Lock bypass codes sealed at rest under a
 * key ring, versioned, every access audited.
 */
@Module({})
export class EscrowModule {
  /**
   * Throws at registration when the key ring is unusable or the unlock client certificate cannot
   * be read, so a bad key or certificate stops the boot.
   */
  static register(config: TurnaroundConfig, transport: MessageTransport): DynamicModule {
    const { activeKeyId, keys } = config.escrowKeyRing;
    // The only place the escrow keys enter the service.
    const sealer = new SecretSealer(new KeyRing(activeKeyId, keys), ADOPTED_ESCROW_KEY_ID);
    const unlockEndpoint = ActivationLockRepository.endpointOf(config);

    return {
      module: EscrowModule,
      imports: [
        ...persistenceFor(ESCROW_SCHEMA, config),
        MessagingModule.forService('escrow', transport, {
          relay: config.outboxRelay,
          inboxRetentionDays: config.inboxRetentionDays,
        }),
      ],
      controllers: [EscrowConsumer],
      providers: [
        { provide: SecretSealer, useValue: sealer },
        {
          provide: ActivationLockRepository,
          useFactory: () => new ActivationLockRepository(unlockEndpoint),
        },
        { provide: UnlockOrganization, useValue: new UnlockOrganization(config.organization) },
        ActivationLockService,
        AuditRetentionRepository,
        EscrowRepository,
        EscrowRetentionService.provider(config),
        EscrowService,
        EscrowStatusService,
        KeyRotationService,
      ],
      exports: [EscrowStatusService],
    };
  }
}
