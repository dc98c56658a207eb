import { FactoryProvider } from '@nestjs/common';

import { MessageInbox } from '@turnaround/messaging';
import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

import { CommandRetentionRepository } from '../data-access/command-retention.repository.js';

type RetentionConfig = Pick<TurnaroundConfig, 'retentionDays' | 'inboxRetentionDays'>;

/**
 * Deletes what the commands service no longer needs: finished commands (with their results)
 * after TURNAROUND_RETENTION_DAYS, handled message ids after TURNAROUND_INBOX_RETENTION_DAYS.
 */
export class CommandsRetentionService extends RetentionService {
  constructor(config: RetentionConfig, commands: CommandRetentionRepository, inbox: MessageInbox) {
    super('commands', [
      {
        name: 'commands',
        days: config.retentionDays,
        deleteBatch: (before, limit) => commands.deleteFinished(before, limit),
      },
      {
        name: 'inboxMessages',
        days: config.inboxRetentionDays,
        deleteBatch: (before, limit) => inbox.purge(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<CommandsRetentionService> {
    return {
      provide: CommandsRetentionService,
      inject: [CommandRetentionRepository, MessageInbox],
      useFactory: (commands: CommandRetentionRepository, inbox: MessageInbox) =>
        new CommandsRetentionService(config, commands, inbox),
    };
  }
}
