import { FactoryProvider } from '@nestjs/common';

import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

import { AuditRetentionRepository } from '../data-access/audit-retention.repository.js';

type RetentionConfig = Pick<TurnaroundConfig, 'auditRetentionDays'>;

/**
 * Deletes audit rows after TURNAROUND_AUDIT_RETENTION_DAYS, but not the record of a secret still
 * in force. Version rows stay: versions are numbered from them, and the audit names versions.
 * The messaging module forgets handled message ids.
 */
export class EscrowRetentionService extends RetentionService {
  constructor(config: RetentionConfig, audit: AuditRetentionRepository) {
    super('escrow', [
      {
        name: 'auditRows',
        days: config.auditRetentionDays,
        deleteBatch: (before, limit) => audit.deleteBefore(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<EscrowRetentionService> {
    return {
      provide: EscrowRetentionService,
      inject: [AuditRetentionRepository],
      useFactory: (audit: AuditRetentionRepository) => new EscrowRetentionService(config, audit),
    };
  }
}
