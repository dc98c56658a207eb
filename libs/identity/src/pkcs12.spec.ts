import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CertificateAuthority,
  createCertificateAuthority,
  DeviceIdentity,
} from './certificate-authority.js';
import { fingerprintOf } from './certificate.js';
import { IdentityError } from './identity.errors.js';
import { exportPkcs12, importPkcs12 } from './pkcs12.js';
import { withOpenssl } from './testing/openssl.js';


describe('PKCS#12', () => {
  let authority: CertificateAuthority;
  let identity: DeviceIdentity;

  beforeAll(async () => {
    authority = new CertificateAuthority(createCertificateAuthority({ commonName: 'P12 CA' }));
    identity = await authority.issueDeviceIdentity({ commonName: 'device-p12' });
  });

  it('round-trips the identity unchanged', () => {
    const restored = importPkcs12(exportPkcs12(identity, 'correct horse'), 'correct horse');

    expect(fingerprintOf(restored.certificatePem)).toBe(identity.fingerprint);
    expect(restored.privateKeyPem).toBe(identity.privateKeyPem);
  });

  it('writes the file every Apple OS opens: 3DES key bag and a SHA-1 MAC', () => {
    const der = exportPkcs12(identity, 'pw', { friendlyName: 'Turnaround identity' }).toString(
      'hex',
    );

    // pbeWithSHAAnd3-KeyTripleDES-CBC (1.2.840.113549.1.12.1.3) and SHA-1 (1.3.14.3.2.26).
    expect(der).toContain('060a2a864886f70d010c0103');
    expect(der).toContain('06052b0e03021a');
    expect(der).not.toContain('2a864886f70d01050d'); // no PBES2
  });

  it('refuses a wrong password', () => {
    const p12 = exportPkcs12(identity, 'right');

    expect(() => importPkcs12(p12, 'wrong')).toThrow(
      expect.objectContaining({ code: 'IDENTITY.MATERIAL_INVALID' }),
    );
  });

  it('refuses bytes that are not PKCS#12', () => {
    expect(() => importPkcs12(Buffer.from('not a pfx'), 'pw')).toThrow(IdentityError);
    expect(() => importPkcs12(Buffer.alloc(0), 'pw')).toThrow(IdentityError);
  });

  it("refuses to export a key that is not RSA or not the certificate's", async () => {
    const other = await authority.issueDeviceIdentity({ commonName: 'other' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

    expect(() =>
      exportPkcs12(
        { certificatePem: identity.certificatePem, privateKeyPem: other.privateKeyPem },
        'pw',
      ),
    ).toThrow(expect.objectContaining({ code: 'IDENTITY.MATERIAL_INVALID' }));
    expect(() =>
      exportPkcs12(
        {
          certificatePem: identity.certificatePem,
          privateKeyPem: ec.export({ type: 'pkcs8', format: 'pem' }).toString(),
        },
        'pw',
      ),
    ).toThrow(expect.objectContaining({ code: 'IDENTITY.MATERIAL_INVALID' }));
  });

  describe('with openssl', () => {
    let dir: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'turnaround-p12-'));
    });

    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    withOpenssl('opens in openssl pkcs12 with and without -legacy', () => {
      writeFileSync(
        join(dir, 'device.p12'),
        exportPkcs12(identity, 's3cret', { friendlyName: 'Dev' }),
      );

      for (const extra of [[], ['-legacy']]) {
        const result = spawnSync('openssl', [
          'pkcs12',
          ...extra,
          '-info',
          '-nodes',
          '-in',
          join(dir, 'device.p12'),
          '-passin',
          'pass:s3cret',
        ]);
        const output = `${result.stdout}${result.stderr}`;

        expect(result.status).toBe(0);
        expect(output).toContain('pbeWithSHA1And3-KeyTripleDES-CBC');
        expect(output).toContain('friendlyName: Dev');
        expect(output).toContain('subject=CN = device-p12');
        expect(output).toContain('BEGIN PRIVATE KEY');
      }
    });

    withOpenssl('imports a PKCS#12 written by openssl (AES, PBES2)', () => {
      writeFileSync(join(dir, 'cert.pem'), identity.certificatePem);
      writeFileSync(join(dir, 'key.pem'), identity.privateKeyPem, { mode: 0o600 });
      const result = spawnSync('openssl', [
        'pkcs12',
        '-export',
        '-in',
        join(dir, 'cert.pem'),
        '-inkey',
        join(dir, 'key.pem'),
        '-passout',
        'pass:pw',
        '-out',
        join(dir, 'openssl.p12'),
      ]);
      expect(result.status).toBe(0);

      const restored = importPkcs12(readFileSync(join(dir, 'openssl.p12')), 'pw');

      expect(fingerprintOf(restored.certificatePem)).toBe(identity.fingerprint);
    });
  });
});
