import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { Inject, Injectable, OnModuleInit } from '@nestjs/common';

import { CertificateAuthority, exportPkcs12, loadOrCreateCertificateAuthority } from '@turnaround/identity';
import { createLogger } from '@turnaround/platform';
import { buildEnrollmentProfile } from '@turnaround/protocol';

import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';

/**
 * Issues enrollment profiles. Each one carries a new device identity from the service's CA, so
 * each enrollment (and each re-enrollment after an erase) signs with a certificate of its own.
 * TODO(#4): SCEP instead of a PKCS#12 payload, so no private key ever travels in a profile.
 */
@Injectable()
export class EnrollmentProfileService implements OnModuleInit {
  private readonly logger = createLogger('EnrollmentProfileService');
  private authority?: CertificateAuthority;
  private loading?: Promise<void>;

  constructor(@Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings) {}

  /** Loads the CA, creating it on the embedded default's first start; safe to call twice. */
  onModuleInit(): Promise<void> {
    this.loading ??= this.loadAuthority();

    return this.loading;
  }

  private async loadAuthority(): Promise<void> {
    const { caCertificatePath, caPrivateKeyPath } = this.settings;
    this.authority =
      existsSync(caCertificatePath) && existsSync(caPrivateKeyPath)
        ? CertificateAuthority.fromPem(readFileSync(caCertificatePath, 'utf8'), readFileSync(caPrivateKeyPath, 'utf8'))
        : await loadOrCreateCertificateAuthority(dirname(caCertificatePath), `${this.settings.organization} Device CA`);
  }

  async issue(): Promise<Buffer> {
    const identityId = randomUUID();
    const identity = await this.authority!.issueDeviceIdentity({ commonName: `${this.settings.organization} device identity ${identityId}` });
    const password = randomBytes(18).toString('base64url');
    const profile = buildEnrollmentProfile({
      serverUrl: `${this.settings.publicUrl}/mdm/server`,
      checkInUrl: `${this.settings.publicUrl}/mdm/checkin`,
      topic: this.settings.pushTopic,
      identity: { pkcs12: exportPkcs12(identity, password), password },
      organization: this.settings.organization,
      displayName: `${this.settings.organization} device management`,
      payloadIdentifierPrefix: 'io.turnaround.enrollment',
      // Real devices need https; plain http is for the embedded default and the simulator.
      allowInsecureUrls: this.settings.publicUrl.startsWith('http:'),
    });
    this.logger.info({ certificateFingerprint: identity.fingerprint }, 'enrollment profile issued');

    return profile;
  }
}
