import { ServiceName } from '@turnaround/contracts';
import { RetentionService } from '@turnaround/platform';

import { MessageInbox } from './outbox.js';

/**
 * Forgets one service's handled message ids after TURNAROUND_INBOX_RETENTION_DAYS, on the
 * retention runner's schedule and in its batches: redeliveries come within minutes, so an older
 * id guards against nothing. The messaging module registers one per service it is configured
 * for, so each service's inbox table has exactly one job, in the embedded process too.
 */
export class InboxRetentionService extends RetentionService {
  constructor(service: ServiceName, days: number, inbox: MessageInbox) {
    super(service, [
      {
        name: 'inboxMessages',
        days,
        deleteBatch: (before, limit) => inbox.purge(before, limit),
      },
    ]);
  }
}
