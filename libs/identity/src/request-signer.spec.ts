import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CertificateAuthority,
  createCertificateAuthority,
  DeviceIdentity,
} from './certificate-authority.js';
import { isContext, oidOf, parseAsn1 } from './der.js';
import { Oid } from './oids.js';
import { RequestSigner } from './request-signer.js';
import { parseSignedData } from './signed-data.js';
import { withOpenssl } from './testing/openssl.js';


describe('RequestSigner', () => {
  let authority: CertificateAuthority;
  let identity: DeviceIdentity;
  const body = Buffer.from(
    '<plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>',
  );

  beforeAll(async () => {
    authority = new CertificateAuthority(createCertificateAuthority({ commonName: 'Signer CA' }));
    identity = await authority.issueDeviceIdentity({ commonName: 'device-s' });
  });

  it('produces a detached SignedData with the certificate and three signed attributes', () => {
    const signedAt = new Date(Date.UTC(2030, 4, 6, 7, 8, 9));
    const signer = new RequestSigner(identity, { now: () => signedAt });
    const der = Buffer.from(signer.sign(body), 'base64');
    const signedData = parseSignedData(der);
    const [info] = signedData.signers;

    expect(signedData.content).toBeUndefined();
    expect(signedData.certificates.map((c) => c.toString('hex'))).toEqual([
      identity.certificateDer.toString('hex'),
    ]);
    expect(info.digestAlgorithm).toBe(Oid.sha256);
    expect(info.signatureAlgorithm).toBe(Oid.rsaEncryption);
    expect([...(info.signedAttributes?.values.keys() ?? [])].sort()).toEqual(
      [Oid.contentType, Oid.messageDigest, Oid.signingTime].sort(),
    );
    expect(der.toString('latin1')).toContain('300506070809Z');
    expect(signer.fingerprint).toBe(identity.fingerprint);
  });

  it('leaves out signingTime when asked', () => {
    const signer = new RequestSigner(identity, { signingTime: false });
    const [info] = parseSignedData(Buffer.from(signer.sign(body), 'base64')).signers;

    expect(info.signedAttributes?.values.has(Oid.signingTime)).toBe(false);
  });

  it('encodes the signed attributes as DER, under [0] in the SignerInfo', () => {
    const der = Buffer.from(new RequestSigner(identity).sign(body), 'base64');
    const root = parseAsn1(der);
    const signedData = root.children[1].children[0];
    const signerInfo = signedData.children[signedData.children.length - 1].children[0];

    expect(oidOf(der, root.children[0], 'type')).toBe(Oid.signedData);
    expect(isContext(signerInfo.children[3], 0)).toBe(true);
    expect(root.indefinite).toBe(false);
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const other = await authority.issueDeviceIdentity({ commonName: 'other' });

    expect(
      () =>
        new RequestSigner({
          certificatePem: identity.certificatePem,
          privateKeyPem: other.privateKeyPem,
        }),
    ).toThrow(expect.objectContaining({ code: 'IDENTITY.MATERIAL_INVALID' }));
  });

  withOpenssl('makes signatures that openssl cms -verify accepts against the CA', () => {
    const dir = mkdtempSync(join(tmpdir(), 'turnaround-signer-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), authority.certificatePem);
      writeFileSync(join(dir, 'body'), body);
      writeFileSync(
        join(dir, 'signature.der'),
        Buffer.from(new RequestSigner(identity).sign(body), 'base64'),
      );
      const verify = (content: string) =>
        spawnSync('openssl', [
          'cms',
          '-verify',
          '-binary',
          '-inform',
          'DER',
          '-in',
          join(dir, 'signature.der'),
          '-content',
          content,
          '-CAfile',
          join(dir, 'ca.pem'),
          '-purpose',
          'sslclient',
          '-out',
          join(dir, 'out'),
        ]);

      const good = verify(join(dir, 'body'));
      expect(`${good.stderr}`).toContain('Verification successful');

      writeFileSync(join(dir, 'other'), Buffer.concat([body, Buffer.from(' ')]));
      expect(verify(join(dir, 'other')).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
