import { Injectable } from '@nestjs/common';

import { RetentionService } from '@turnaround/platform';

import { ScepChallengeRepository } from '../data-access/scep-challenge.repository.js';

// An expired SCEP challenge still answers a device that sends its request again; a day is far
// beyond any retry.
const SCEP_CHALLENGE_DAYS_AFTER_EXPIRY = 1;

/**
 * Deletes SCEP challenges a day after they expire. The check-in service's other rows (devices,
 * enrollments, identities) describe devices that still exist and are kept; the messaging module
 * forgets handled message ids.
 */
@Injectable()
export class CheckinRetentionService extends RetentionService {
  constructor(challenges: ScepChallengeRepository) {
    super('checkin', [
      {
        name: 'scepChallenges',
        days: SCEP_CHALLENGE_DAYS_AFTER_EXPIRY,
        deleteBatch: (before, limit) => challenges.purgeExpired(before, limit),
      },
    ]);
  }
}
