import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { fingerprintOf } from './certificate.js';
import {
  CertificateAuthority,
  createCertificateAuthority,
  loadOrCreateCertificateAuthority,
} from './certificate-authority.js';
import { IdentityError } from './identity.errors.js';
import { withOpenssl } from './testing/openssl.js';


const DAY_MS = 24 * 60 * 60 * 1000;

describe('createCertificateAuthority', () => {
  it('creates a self-signed RSA 2048 CA with the given names', () => {
    const material = createCertificateAuthority({
      commonName: 'Turnaround CA',
      organization: 'Example School',
      validityDays: 30,
    });
    const certificate = new X509Certificate(material.certificatePem);

    expect(certificate.ca).toBe(true);
    expect(certificate.subject).toBe('O=Example School\nCN=Turnaround CA');
    expect(certificate.issuer).toBe(certificate.subject);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(material.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    const lifetime = Date.parse(certificate.validTo) - Date.now();
    expect(lifetime).toBeGreaterThan(29 * DAY_MS);
    expect(lifetime).toBeLessThan(31 * DAY_MS);
  });

  it('refuses an empty name and a non-positive validity', () => {
    expect(() => createCertificateAuthority({ commonName: ' ' })).toThrow(RangeError);
    expect(() => createCertificateAuthority({ commonName: 'CA', validityDays: 0 })).toThrow(
      RangeError,
    );
  });
});

describe('CertificateAuthority', () => {
  const material = createCertificateAuthority({ commonName: 'Turnaround CA' });
  const authority = new CertificateAuthority(material);

  it('issues a client identity chained to the CA', async () => {
    const identity = await authority.issueDeviceIdentity({ commonName: 'device-7' });
    const certificate = new X509Certificate(identity.certificatePem);
    const ca = new X509Certificate(authority.certificatePem);

    expect(certificate.subject).toBe('CN=device-7');
    expect(certificate.checkIssued(ca)).toBe(true);
    expect(certificate.verify(ca.publicKey)).toBe(true);
    expect(certificate.ca).toBe(false);
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(certificate.checkPrivateKey(createPrivateKey(identity.privateKeyPem))).toBe(true);
    expect(certificate.raw.equals(identity.certificateDer)).toBe(true);
    expect(identity.fingerprint).toBe(certificate.fingerprint256.replace(/:/g, '').toLowerCase());
  });

  it('gives every identity its own key and a random positive serial', async () => {
    const [first, second] = await Promise.all([
      authority.issueDeviceIdentity({ commonName: 'a' }),
      authority.issueDeviceIdentity({ commonName: 'b' }),
    ]);
    const serials = [first, second].map(
      (identity) => new X509Certificate(identity.certificateDer).serialNumber,
    );

    expect(first.privateKeyPem).not.toBe(second.privateKeyPem);
    expect(serials[0]).not.toBe(serials[1]);
    for (const serial of serials) {
      expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
  });

  it('never issues beyond its own expiry', async () => {
    const shortLived = new CertificateAuthority(
      createCertificateAuthority({ commonName: 'Short CA', validityDays: 10 }),
    );
    const identity = await shortLived.issueDeviceIdentity({
      commonName: 'device',
      validityDays: 365,
    });

    expect(Date.parse(new X509Certificate(identity.certificateDer).validTo)).toBeLessThanOrEqual(
      shortLived.notAfter.getTime(),
    );
  });

  it('certifies a public key it did not generate (EC P-256)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = authority.issueCertificate({
      commonName: 'scep-device',
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      validityDays: 30,
    });
    const certificate = new X509Certificate(issued.certificateDer);

    expect(certificate.publicKey.asymmetricKeyType).toBe('ec');
    expect(certificate.verify(new X509Certificate(authority.certificatePem).publicKey)).toBe(true);
    expect(issued.serialNumber).toBe(certificate.serialNumber.toLowerCase());
  });

  it('refuses a key that does not belong to the certificate', () => {
    const other = createCertificateAuthority({ commonName: 'Other' });

    expect(() =>
      CertificateAuthority.fromPem(material.certificatePem, other.privateKeyPem),
    ).toThrow(expect.objectContaining({ code: 'IDENTITY.MATERIAL_INVALID' }));
  });

  it('refuses a certificate that is not a CA', async () => {
    const identity = await authority.issueDeviceIdentity({ commonName: 'leaf' });

    expect(() =>
      CertificateAuthority.fromPem(identity.certificatePem, identity.privateKeyPem),
    ).toThrow(expect.objectContaining({ code: 'IDENTITY.MATERIAL_INVALID' }));
  });

  it('refuses unreadable PEM', () => {
    expect(() => CertificateAuthority.fromPem('nope', material.privateKeyPem)).toThrow(
      IdentityError,
    );
    expect(() => CertificateAuthority.fromPem(material.certificatePem, 'nope')).toThrow(
      IdentityError,
    );
  });

  withOpenssl('issues certificates that openssl accepts for TLS client authentication', () => {
    const dir = mkdtempSync(join(tmpdir(), 'turnaround-ca-'));
    try {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const issued = authority.issueCertificate({ commonName: 'device', publicKey });
      writeFileSync(join(dir, 'ca.pem'), authority.certificatePem);
      writeFileSync(join(dir, 'device.pem'), issued.certificatePem);
      const result = spawnSync('openssl', [
        'verify',
        '-purpose',
        'sslclient',
        '-x509_strict',
        '-CAfile',
        join(dir, 'ca.pem'),
        join(dir, 'device.pem'),
      ]);

      expect(`${result.stdout}${result.stderr}`.trim()).toBe(`${join(dir, 'device.pem')}: OK`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loadOrCreateCertificateAuthority', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'turnaround-ca-store-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the CA on first use and reloads the same one afterwards', async () => {
    const store = join(dir, 'nested', 'ca');
    const created = await loadOrCreateCertificateAuthority(store, 'Embedded CA');
    const reloaded = await loadOrCreateCertificateAuthority(store, 'Ignored Name');

    expect(created.commonName).toBe('Embedded CA');
    expect(reloaded.fingerprint).toBe(created.fingerprint);
    expect(fingerprintOf(readFileSync(join(store, 'ca.crt'), 'utf8'))).toBe(created.fingerprint);
    expect(statSync(join(store, 'ca.key')).mode & 0o777).toBe(0o600);
  });

  it('creates exactly one CA when several processes start together', async () => {
    const authorities = await Promise.all(
      Array.from({ length: 4 }, () => loadOrCreateCertificateAuthority(dir, 'Racing CA')),
    );

    expect(new Set(authorities.map((ca) => ca.fingerprint)).size).toBe(1);
    expect(fingerprintOf(readFileSync(join(dir, 'ca.crt'), 'utf8'))).toBe(
      authorities[0].fingerprint,
    );
  });

  it('refuses a directory holding a certificate without its key', async () => {
    writeFileSync(
      join(dir, 'ca.crt'),
      createCertificateAuthority({ commonName: 'x' }).certificatePem,
    );

    await expect(loadOrCreateCertificateAuthority(dir, 'CA')).rejects.toMatchObject({
      code: 'IDENTITY.MATERIAL_INVALID',
    });
  });
});

describe('fingerprintOf', () => {
  const { certificatePem } = createCertificateAuthority({ commonName: 'Fingerprint CA' });
  const certificate = new X509Certificate(certificatePem);
  const expected = certificate.fingerprint256.replace(/:/g, '').toLowerCase();

  it('gives the same lower-case SHA-256 for DER and PEM', () => {
    expect(fingerprintOf(certificate.raw)).toBe(expected);
    expect(fingerprintOf(certificatePem)).toBe(expected);
  });

  it('refuses a string without a certificate', () => {
    expect(() => fingerprintOf('hello')).toThrow(IdentityError);
  });
});
