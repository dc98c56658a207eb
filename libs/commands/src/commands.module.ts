import { DynamicModule, Module } from '@nestjs/common';

import { MessageTransport, MessagingModule } from '@turnaround/messaging';
import { persistenceFor, TurnaroundConfig } from '@turnaround/platform';

import { CommandQueueRepository } from './data-access/command-queue.repository.js';
import { COMMANDS_ENTITIES } from './data-access/commands.entities.js';
import { CommandEventPublisher } from './feature/command-events.service.js';
import { CommandSessionController } from './feature/command-session.controller.js';
import { CommandSessionService } from './feature/command-session.service.js';
import { COMMANDS_CONFIG } from './feature/commands.config.js';
import { DeviceSignatureService } from './feature/device-signature.service.js';
import { EscrowClient } from './feature/escrow-client.service.js';
import { IdentityResolver } from './feature/identity-resolver.service.js';
import { QueueEventsConsumer } from './feature/queue-events.consumer.js';

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
        ...persistenceFor('commands', config, COMMANDS_ENTITIES),
        MessagingModule.forService('commands', transport),
      ],
      controllers: [CommandSessionController, QueueEventsConsumer],
      providers: [
        { provide: COMMANDS_CONFIG, useValue: config },
        CommandEventPublisher,
        CommandQueueRepository,
        CommandSessionService,
        DeviceSignatureService,
        EscrowClient,
        IdentityResolver,
      ],
      exports: [CommandQueueRepository],
    };
  }
}
