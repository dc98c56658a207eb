import { readFileSync } from 'node:fs';

import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';

import { deviceProofOf, identifyDevice, SignatureVerifier, VerifiedIdentity } from '@turnaround/identity';

import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { DeviceAuthorityService } from './device-authority.service.js';

/**
 * Who sent a request: the certificate that signed its body (Mdm-Signature), or the client
 * certificate a TLS-terminating proxy passed on in the configured header; both are checked
 * against the service's CA by the same verifier.
 */
@Injectable()
export class DeviceIdentityService implements OnModuleInit {
  private verifier?: SignatureVerifier;

  constructor(
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
    private readonly authority: DeviceAuthorityService,
  ) {}

  async onModuleInit(): Promise<void> {
    // The CA may be created on first start; it must exist before its file is read (which may
    // hold more certificates to trust than the CA's own).
    await this.authority.onModuleInit();
    this.verifier = new SignatureVerifier(readFileSync(this.settings.caCertificatePath, 'utf8'));
  }

  verify(request: IncomingMessage, body: Buffer): VerifiedIdentity {
    return identifyDevice(
      this.verifier!,
      deviceProofOf(request.headers, this.settings.clientCertificateHeader),
      body,
    );
  }
}
