import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CertificateAuthority,
  createCertificateAuthority,
  RequestSigner,
} from '@turnaround/identity';
import { setLogLevel } from '@turnaround/platform';
import type { TurnaroundConfig } from '@turnaround/platform';

import { DeviceSignatureService } from './device-signature.service.js';

describe('DeviceSignatureService', () => {
  let dir: string;

  beforeAll(() => {
    setLogLevel(process.env.TEST_LOG_LEVEL ?? 'silent');
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'turnaround-signatures-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503-coded errors until the CA certificate exists, then verifies with it', async () => {
    const caCertificatePath = join(dir, 'ca.crt');
    const service = new DeviceSignatureService({ caCertificatePath } as TurnaroundConfig);
    const material = createCertificateAuthority({ commonName: 'Late CA' });
    const identity = await new CertificateAuthority(material).issueDeviceIdentity({
      commonName: 'd',
    });
    const body = Buffer.from('<plist/>');
    const header = new RequestSigner(identity).sign(body);

    service.onApplicationBootstrap();
    expect(() => service.verify({ signature: header }, body)).toThrow(
      expect.objectContaining({ code: 'DEPENDENCY.CA_UNAVAILABLE' }),
    );

    writeFileSync(caCertificatePath, material.certificatePem);
    expect(service.verify({ signature: header }, body).fingerprint).toBe(identity.fingerprint);
  });

  it('refuses a missing signature with an IDENTITY code', () => {
    const caCertificatePath = join(dir, 'ca.crt');
    writeFileSync(
      caCertificatePath,
      createCertificateAuthority({ commonName: 'CA' }).certificatePem,
    );
    const service = new DeviceSignatureService({ caCertificatePath } as TurnaroundConfig);
    service.onApplicationBootstrap();

    expect(() => service.verify({}, Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'IDENTITY.SIGNATURE_MISSING' }),
    );
  });
});
