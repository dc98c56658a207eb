import { FactoryProvider } from '@nestjs/common';

import { MessageInbox } from '@turnaround/messaging';
import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

type RetentionConfig = Pick<TurnaroundConfig, 'inboxRetentionDays'>;

/**
 * Deletes handled message ids after TURNAROUND_INBOX_RETENTION_DAYS. The check-in service's own
 * rows (devices, enrollments, identities) describe devices that still exist and are kept.
 */
export class CheckinRetentionService extends RetentionService {
  constructor(config: RetentionConfig, inbox: MessageInbox) {
    super('checkin', [
      {
        name: 'inboxMessages',
        days: config.inboxRetentionDays,
        deleteBatch: (before, limit) => inbox.purge(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<CheckinRetentionService> {
    return {
      provide: CheckinRetentionService,
      inject: [MessageInbox],
      useFactory: (inbox: MessageInbox) => new CheckinRetentionService(config, inbox),
    };
  }
}
