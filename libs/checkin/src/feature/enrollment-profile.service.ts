import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { createLogger } from '@turnaround/platform';
import { buildEnrollmentProfile } from '@turnaround/protocol';

import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { DeviceAuthorityService } from './device-authority.service.js';
import { SCEP_PATH, ScepService } from './scep.service.js';

/**
 * Issues enrollment profiles. Each one carries a SCEP payload with a challenge of its own: the
 * device makes its key and has the service's CA certify it, so each enrollment (and each
 * re-enrollment after an erase) signs with a certificate of its own, and no private key travels
 * in a profile.
 */
@Injectable()
export class EnrollmentProfileService {
  private readonly logger = createLogger('EnrollmentProfileService');

  constructor(
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
    private readonly authority: DeviceAuthorityService,
    private readonly scep: ScepService,
  ) {}

  async issue(): Promise<Buffer> {
    const identityId = randomUUID();
    const { organization, publicUrl } = this.settings;
    const profile = buildEnrollmentProfile({
      serverUrl: `${publicUrl}/mdm/server`,
      checkInUrl: `${publicUrl}/mdm/checkin`,
      topic: this.settings.pushTopic,
      identity: {
        scep: {
          url: `${publicUrl}/${SCEP_PATH}`,
          challenge: await this.scep.newChallenge(),
          name: this.authority.certificateAuthority.commonName,
          subject: [[['CN', `${organization} device identity ${identityId}`]]],
          keySize: 2048,
          // The device decrypts the CertRep with this key, so it signs and encrypts; the CA
          // issues digitalSignature and clientAuth whatever the request asks.
          keyUsage: 5,
        },
      },
      organization,
      displayName: `${organization} device management`,
      payloadIdentifierPrefix: 'io.turnaround.enrollment',
      // Real devices need https; plain http is for the embedded default and the simulator.
      allowInsecureUrls: publicUrl.startsWith('http:'),
    });
    this.logger.info({ identityId }, 'enrollment profile issued');

    return profile;
  }
}
