import { readFileSync } from 'node:fs';

import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';

import { SignatureVerifier, VerifiedIdentity } from '@turnaround/identity';

import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { EnrollmentProfileService } from './enrollment-profile.service.js';

/**
 * Who sent a request: the certificate that signed its body (Mdm-Signature). Identities from a
 * TLS-terminating proxy's client-certificate header go through the same verifier.
 * TODO(#4): accept the proxy header when configured.
 */
@Injectable()
export class DeviceIdentityService implements OnModuleInit {
  private verifier?: SignatureVerifier;

  // The profile service creates the CA on first start; it must exist before we read it.
  constructor(
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
    private readonly profiles: EnrollmentProfileService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.profiles.onModuleInit();
    this.verifier = new SignatureVerifier(readFileSync(this.settings.caCertificatePath, 'utf8'));
  }

  verify(request: IncomingMessage, body: Buffer): VerifiedIdentity {
    const header = request.headers['mdm-signature'];

    return this.verifier!.verify(Array.isArray(header) ? header[0] : header, body);
  }
}
