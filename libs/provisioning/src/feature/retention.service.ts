import { FactoryProvider } from '@nestjs/common';

import { MessageInbox } from '@turnaround/messaging';
import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

import { CycleRetentionRepository } from '../data-access/cycle-retention.repository.js';

type RetentionConfig = Pick<TurnaroundConfig, 'retentionDays' | 'inboxRetentionDays'>;

/**
 * Deletes what the provisioning service no longer needs: finished RTS cycles with their history
 * after TURNAROUND_RETENTION_DAYS (their plan steps name commands the commands service deletes
 * after the same time), handled message ids after TURNAROUND_INBOX_RETENTION_DAYS.
 */
export class ProvisioningRetentionService extends RetentionService {
  constructor(config: RetentionConfig, cycles: CycleRetentionRepository, inbox: MessageInbox) {
    super('provisioning', [
      {
        name: 'cycles',
        days: config.retentionDays,
        deleteBatch: (before, limit) => cycles.deleteEnded(before, limit),
      },
      {
        name: 'inboxMessages',
        days: config.inboxRetentionDays,
        deleteBatch: (before, limit) => inbox.purge(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<ProvisioningRetentionService> {
    return {
      provide: ProvisioningRetentionService,
      inject: [CycleRetentionRepository, MessageInbox],
      useFactory: (cycles: CycleRetentionRepository, inbox: MessageInbox) =>
        new ProvisioningRetentionService(config, cycles, inbox),
    };
  }
}
