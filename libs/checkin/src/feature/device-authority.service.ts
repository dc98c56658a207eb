import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { Inject, Injectable, OnModuleInit } from '@nestjs/common';

import { CertificateAuthority, loadOrCreateCertificateAuthority } from '@turnaround/identity';

import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';

/**
 * The service CA that certifies device identities: read from the configured files, or created
 * beside them on the embedded default's first start.
 */
@Injectable()
export class DeviceAuthorityService implements OnModuleInit {
  private authority?: CertificateAuthority;
  private loading?: Promise<void>;

  constructor(@Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings) {}

  /** Loads the CA; safe to call from every service that needs it first. */
  onModuleInit(): Promise<void> {
    this.loading ??= this.load();

    return this.loading;
  }

  get certificateAuthority(): CertificateAuthority {
    if (!this.authority) {
      throw new Error('the device CA is read at module init; nothing may use it before');
    }

    return this.authority;
  }

  private async load(): Promise<void> {
    const { caCertificatePath, caPrivateKeyPath, organization } = this.settings;
    this.authority =
      existsSync(caCertificatePath) && existsSync(caPrivateKeyPath)
        ? CertificateAuthority.fromPem(
            readFileSync(caCertificatePath, 'utf8'),
            readFileSync(caPrivateKeyPath, 'utf8'),
          )
        : await loadOrCreateCertificateAuthority(
            dirname(caCertificatePath),
            `${organization} Device CA`,
          );
  }
}
