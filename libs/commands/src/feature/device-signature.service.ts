import { existsSync, readFileSync } from 'node:fs';

import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';

import { identifyDevice, SignatureVerifier } from '@turnaround/identity';
import type { DeviceProof, VerifiedIdentity } from '@turnaround/identity';
import { createLogger } from '@turnaround/platform';
import type { TurnaroundConfig } from '@turnaround/platform';

import { COMMANDS_CONFIG } from './commands.config.js';
import { CaUnavailableError } from './commands.errors.js';

/**
 * Checks `Mdm-Signature` against the service CA's certificate. The check-in service creates the
 * CA on the embedded default's first start, in its own start-up hook, so the certificate is read
 * once every module has started, or on the first request after it appears.
 */
@Injectable()
export class DeviceSignatureService implements OnApplicationBootstrap {
  private readonly logger = createLogger('DeviceSignatureService');
  private verifier?: SignatureVerifier;

  constructor(@Inject(COMMANDS_CONFIG) private readonly config: TurnaroundConfig) {}

  onApplicationBootstrap(): void {
    if (!this.load()) {
      this.logger.warn(
        { path: this.config.caCertificatePath },
        'CA certificate missing, command requests answered 503 until it exists',
      );
    }
  }

  /** Throws `IDENTITY.*` for a bad proof, `DEPENDENCY.CA_UNAVAILABLE` without a CA. */
  verify(proof: DeviceProof, body: Buffer): VerifiedIdentity {
    const verifier = this.verifier ?? this.load();
    if (!verifier) {
      throw new CaUnavailableError(this.config.caCertificatePath);
    }

    return identifyDevice(verifier, proof, body);
  }

  private load(): SignatureVerifier | undefined {
    if (!existsSync(this.config.caCertificatePath)) {
      return undefined;
    }
    this.verifier = new SignatureVerifier(readFileSync(this.config.caCertificatePath, 'utf8'));

    return this.verifier;
  }
}
