import { FactoryProvider } from '@nestjs/common';

import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

import { CommandRetentionRepository } from '../data-access/command-retention.repository.js';

type RetentionConfig = Pick<TurnaroundConfig, 'retentionDays'>;

/**
 * Deletes finished commands (with their results) after TURNAROUND_RETENTION_DAYS; the messaging
 * module forgets handled message ids.
 */
export class CommandsRetentionService extends RetentionService {
  constructor(config: RetentionConfig, commands: CommandRetentionRepository) {
    super('commands', [
      {
        name: 'commands',
        days: config.retentionDays,
        deleteBatch: (before, limit) => commands.deleteFinished(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<CommandsRetentionService> {
    return {
      provide: CommandsRetentionService,
      inject: [CommandRetentionRepository],
      useFactory: (commands: CommandRetentionRepository) =>
        new CommandsRetentionService(config, commands),
    };
  }
}
