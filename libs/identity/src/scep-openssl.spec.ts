import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CertificateAuthority,
  createCertificateAuthority,
  privateKeyOf,
} from './certificate-authority.js';
import { summarizeCertificate, toPem } from './certificate.js';
import { readCertificationRequest } from './certification-request.js';
import { openEnvelopedData } from './enveloped-data.js';
import { buildPkcsReq } from './scep-client.js';
import { ScepServer } from './scep-server.js';
import { withOpenssl } from './testing/openssl.js';
import { encodeName } from './x500-name.js';

// Each side of SCEP against the openssl executable: its EnvelopedData and PKCS#10 read by the
// CA, and our PKCSReq and CertRep verified and opened by `openssl cms`.
describe('SCEP messages and openssl', () => {
  const material = createCertificateAuthority({ commonName: 'SCEP Interop CA' });
  const authority = new CertificateAuthority(material);
  const server = new ScepServer(authority);
  const deviceKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const subject = encodeName([[['CN', 'interop device']]]);
  let dir = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'turnaround-scep-'));
    writeFileSync(join(dir, 'ca.crt'), material.certificatePem);
    writeFileSync(join(dir, 'ca.key'), material.privateKeyPem, { mode: 0o600 });
    writeFileSync(
      join(dir, 'device.key'),
      deviceKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      { mode: 0o600 },
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function openssl(args: string[]): string {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
    }

    return result.stdout;
  }

  function file(name: string): Buffer {
    return readFileSync(join(dir, name));
  }

  function opensslRequest(): Buffer {
    // The request as a SCEP client makes it: challengePassword attribute, keyUsage requested.
    writeFileSync(
      join(dir, 'request.cnf'),
      [
        '[req]',
        'distinguished_name = dn',
        'attributes = attributes',
        'req_extensions = extensions',
        'prompt = no',
        '[dn]',
        'O = Interop',
        'CN = openssl device',
        '[attributes]',
        'challengePassword = 0123abcd',
        '[extensions]',
        'keyUsage = digitalSignature, keyEncipherment',
        '',
      ].join('\n'),
    );
    openssl([
      'req',
      '-new',
      '-config',
      'request.cnf',
      '-key',
      'device.key',
      '-outform',
      'DER',
      '-out',
      'device.csr',
    ]);

    return file('device.csr');
  }

  const caRecipient = () => ({
    certificate: summarizeCertificate(authority.certificateDer),
    key: privateKeyOf(authority),
  });

  withOpenssl('reads a PKCS#10 request from openssl req, challengePassword and all', () => {
    const request = readCertificationRequest(opensslRequest());

    expect(request.challengePassword).toBe('0123abcd');
    expect(request.commonName).toBe('openssl device');
  });

  for (const [flag, cipher] of [
    ['-aes128', 'aes-128-cbc'],
    ['-aes256', 'aes-256-cbc'],
    ['-des3', 'des-ede3-cbc'],
  ] as const) {
    withOpenssl(`opens an EnvelopedData that openssl cms encrypted with ${flag}`, () => {
      writeFileSync(join(dir, 'request.der'), opensslRequest());
      openssl([
        'cms',
        '-encrypt',
        '-binary',
        flag,
        '-in',
        'request.der',
        '-outform',
        'DER',
        '-out',
        'envelope.der',
        'ca.crt',
      ]);
      const opened = openEnvelopedData(file('envelope.der'), caRecipient());

      expect(opened.cipher).toBe(cipher);
      expect(opened.content.equals(file('request.der'))).toBe(true);
    });
  }

  withOpenssl(
    'opens a streamed (BER, indefinite length) envelope as NSS-based clients send',
    () => {
      writeFileSync(join(dir, 'request.der'), opensslRequest());
      openssl([
        'cms',
        '-encrypt',
        '-binary',
        '-stream',
        '-aes256',
        '-in',
        'request.der',
        '-outform',
        'DER',
        '-out',
        'streamed.der',
        'ca.crt',
      ]);

      expect(openEnvelopedData(file('streamed.der'), caRecipient()).content).toEqual(
        file('request.der'),
      );
    },
  );

  withOpenssl('writes a PKCSReq that openssl verifies and whose envelope the CA key opens', () => {
    const sent = buildPkcsReq({
      key: deviceKey,
      caCertificate: authority.certificateDer,
      subject,
      challenge: 'fedcba98',
    });
    writeFileSync(join(dir, 'pkcsreq.der'), sent.message);
    writeFileSync(join(dir, 'signer.crt'), toPem(sent.signerCertificate, 'CERTIFICATE'));
    openssl([
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      'pkcsreq.der',
      '-noverify',
      '-out',
      'envelope.der',
    ]);
    openssl([
      'cms',
      '-decrypt',
      '-binary',
      '-inform',
      'DER',
      '-in',
      'envelope.der',
      '-recip',
      'ca.crt',
      '-inkey',
      'ca.key',
      '-out',
      'request.der',
    ]);
    const printed = openssl([
      'req',
      '-inform',
      'DER',
      '-in',
      'request.der',
      '-verify',
      '-noout',
      '-text',
    ]);

    expect(printed).toMatch(/challengePassword\s*:\s*fedcba98/);
    expect(printed).toContain('CN = interop device');
  });

  withOpenssl(
    'writes a CertRep that openssl verifies, decrypts and reads the certificate from',
    () => {
      const sent = buildPkcsReq({
        key: deviceKey,
        caCertificate: authority.certificateDer,
        subject,
      });
      const read = server.readPkiOperation(sent.message);
      if (read.kind !== 'pkcs-req') {
        throw new Error(read.reason);
      }
      const issued = authority.issueForRequest(read.pkcsReq.request);
      writeFileSync(
        join(dir, 'certrep.der'),
        server.certRepSuccess(read.pkcsReq, issued.certificateDer),
      );
      writeFileSync(join(dir, 'signer.crt'), toPem(sent.signerCertificate, 'CERTIFICATE'));

      openssl([
        'cms',
        '-verify',
        '-binary',
        '-inform',
        'DER',
        '-in',
        'certrep.der',
        '-CAfile',
        'ca.crt',
        '-purpose',
        'any',
        '-out',
        'reply-envelope.der',
      ]);
      openssl([
        'cms',
        '-decrypt',
        '-binary',
        '-inform',
        'DER',
        '-in',
        'reply-envelope.der',
        '-recip',
        'signer.crt',
        '-inkey',
        'device.key',
        '-out',
        'certs-only.der',
      ]);
      const pem = openssl(['pkcs7', '-inform', 'DER', '-in', 'certs-only.der', '-print_certs']);
      const attributes = openssl([
        'cms',
        '-cmsout',
        '-print',
        '-inform',
        'DER',
        '-in',
        'certrep.der',
      ]);

      expect(new X509Certificate(pem).fingerprint256).toBe(
        new X509Certificate(issued.certificateDer).fingerprint256,
      );
      // messageType 3 (CertRep) and pkiStatus 0 (SUCCESS), as PrintableStrings.
      expect(attributes).toMatch(/2\.16\.840\.1\.113733\.1\.9\.2[\s\S]*?PRINTABLESTRING:3/);
      expect(attributes).toMatch(/2\.16\.840\.1\.113733\.1\.9\.3[\s\S]*?PRINTABLESTRING:0/);
    },
  );
});
