import { FactoryProvider } from '@nestjs/common';

import { MessageInbox } from '@turnaround/messaging';
import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

import { AuditRetentionRepository } from '../data-access/audit-retention.repository.js';

type RetentionConfig = Pick<TurnaroundConfig, 'auditRetentionDays' | 'inboxRetentionDays'>;

/**
 * Deletes what the escrow service no longer needs: audit rows after
 * TURNAROUND_AUDIT_RETENTION_DAYS (but not the record of a secret still in force), handled message
 * ids after TURNAROUND_INBOX_RETENTION_DAYS. Version rows stay: versions are numbered from them,
 * and the audit names versions.
 */
export class EscrowRetentionService extends RetentionService {
  constructor(config: RetentionConfig, audit: AuditRetentionRepository, inbox: MessageInbox) {
    super('escrow', [
      {
        name: 'auditRows',
        days: config.auditRetentionDays,
        deleteBatch: (before, limit) => audit.deleteBefore(before, limit),
      },
      {
        name: 'inboxMessages',
        days: config.inboxRetentionDays,
        deleteBatch: (before, limit) => inbox.purge(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<EscrowRetentionService> {
    return {
      provide: EscrowRetentionService,
      inject: [AuditRetentionRepository, MessageInbox],
      useFactory: (audit: AuditRetentionRepository, inbox: MessageInbox) =>
        new EscrowRetentionService(config, audit, inbox),
    };
  }
}
