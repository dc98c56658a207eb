import { FactoryProvider } from '@nestjs/common';

import { MessageInbox } from '@turnaround/messaging';
import { RetentionService, TurnaroundConfig } from '@turnaround/platform';

import { ScepChallengeRepository } from '../data-access/scep-challenge.repository.js';

type RetentionConfig = Pick<TurnaroundConfig, 'inboxRetentionDays'>;

// An expired SCEP challenge still answers a device that sends its request again; a day is far
// beyond any retry.
const SCEP_CHALLENGE_DAYS_AFTER_EXPIRY = 1;

/**
 * Deletes handled message ids after TURNAROUND_INBOX_RETENTION_DAYS and SCEP challenges a day
 * after they expire. The check-in service's other rows (devices, enrollments, identities)
 * describe devices that still exist and are kept.
 */
export class CheckinRetentionService extends RetentionService {
  constructor(config: RetentionConfig, inbox: MessageInbox, challenges: ScepChallengeRepository) {
    super('checkin', [
      {
        name: 'inboxMessages',
        days: config.inboxRetentionDays,
        deleteBatch: (before, limit) => inbox.purge(before, limit),
      },
      {
        name: 'scepChallenges',
        days: SCEP_CHALLENGE_DAYS_AFTER_EXPIRY,
        deleteBatch: (before, limit) => challenges.purgeExpired(before, limit),
      },
    ]);
  }

  static provider(config: RetentionConfig): FactoryProvider<CheckinRetentionService> {
    return {
      provide: CheckinRetentionService,
      inject: [MessageInbox, ScepChallengeRepository],
      useFactory: (inbox: MessageInbox, challenges: ScepChallengeRepository) =>
        new CheckinRetentionService(config, inbox, challenges),
    };
  }
}
