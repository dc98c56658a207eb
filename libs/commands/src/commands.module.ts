import { DynamicModule, Module } from '@nestjs/common';

import { MessageTransport, MessagingModule } from '@turnaround/messaging';
import { persistenceFor, TurnaroundConfig } from '@turnaround/platform';

import { CommandQueueRepository } from './data-access/command-queue.repository.js';
import { CommandRetentionRepository } from './data-access/command-retention.repository.js';
import { LastSeenRepository } from './data-access/last-seen.repository.js';
import { COMMANDS_SCHEMA } from './data-access/migrations/commands.schema.js';
import { CommandEventPublisher } from './feature/command-events.service.js';
import { CommandSessionController } from './feature/command-session.controller.js';
import { CommandSessionService } from './feature/command-session.service.js';
import { COMMANDS_CONFIG } from './feature/commands.config.js';
import { DeviceSignatureService } from './feature/device-signature.service.js';
import { EscrowClient } from './feature/escrow-client.service.js';
import { IdentityResolver } from './feature/identity-resolver.service.js';
import { ProvisioningClient } from './feature/provisioning-client.service.js';
import { QueueEventsConsumer } from './feature/queue-events.consumer.js';
import { QueueMetrics } from './feature/queue-metrics.js';
import { CommandsRetentionService } from './feature/retention.service.js';

/**
 * The commands service: the device command URL (`PUT /mdm/server`), the per-enrollment command
 * queue, and its event consumers. Event handlers are registered under
 * `SERVICE_TRANSPORTS.commands`; the app connects a `BusServer` for them.
 */
@Module({})
export class CommandsModule {
  static register(config: TurnaroundConfig, transport: MessageTransport): DynamicModule {
    return {
      module: CommandsModule,
      imports: [
        ...persistenceFor(COMMANDS_SCHEMA, config),
        MessagingModule.forService('commands', transport, {
          relay: config.outboxRelay,
          inboxRetentionDays: config.inboxRetentionDays,
        }),
      ],
      controllers: [CommandSessionController, QueueEventsConsumer],
      providers: [
        { provide: COMMANDS_CONFIG, useValue: config },
        CommandEventPublisher,
        CommandQueueRepository,
        CommandRetentionRepository,
        CommandsRetentionService.provider(config),
        LastSeenRepository,
        CommandSessionService,
        DeviceSignatureService,
        EscrowClient,
        IdentityResolver,
        ProvisioningClient,
        QueueMetrics,
      ],
      exports: [CommandQueueRepository],
    };
  }
}
