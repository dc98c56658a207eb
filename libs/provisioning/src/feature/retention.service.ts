import { FactoryProvider } from '@nestjs/common';

import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

import { CycleRetentionRepository } from '../data-access/cycle-retention.repository.js';

type RetentionConfig = Pick<TurnaroundConfig, 'retentionDays'>;

/**
 * Deletes finished RTS cycles with their history after TURNAROUND_RETENTION_DAYS (their plan
 * steps name commands the commands service deletes after the same time); the messaging module
 * forgets handled message ids.
 */
export class ProvisioningRetentionService extends RetentionService {
  constructor(config: RetentionConfig, cycles: CycleRetentionRepository) {
    super('provisioning', [
      {
        name: 'cycles',
        days: config.retentionDays,
        deleteBatch: (before, limit) => cycles.deleteEnded(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<ProvisioningRetentionService> {
    return {
      provide: ProvisioningRetentionService,
      inject: [CycleRetentionRepository],
      useFactory: (cycles: CycleRetentionRepository) =>
        new ProvisioningRetentionService(config, cycles),
    };
  }
}
