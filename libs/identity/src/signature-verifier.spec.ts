import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, KeyObject, createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import forge from 'node-forge';

import { summarizeCertificate } from './certificate.js';
import {
  CertificateAuthority,
  createCertificateAuthority,
  DeviceIdentity,
} from './certificate-authority.js';
import { explicit, NULL, octetString, oid, sequence, setOf, smallInteger } from './der.js';
import { IdentityError, IdentityErrorCode } from './identity.errors.js';
import { Oid } from './oids.js';
import { RequestSigner } from './request-signer.js';
import { SignatureVerifier } from './signature-verifier.js';
import { withOpenssl } from './testing/openssl.js';


function newAuthority(commonName = 'Turnaround Test CA'): CertificateAuthority {
  return new CertificateAuthority(createCertificateAuthority({ commonName }));
}

function plistBody(udid = '00008030-000A1B2C3D4E5F60'): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>` +
      `<key>Status</key><string>Idle</string><key>UDID</key><string>${udid}</string>` +
      `</dict></plist>\n`,
  );
}

function codeOf(action: () => unknown): IdentityErrorCode | 'no error' {
  try {
    action();
  } catch (error) {
    if (error instanceof IdentityError) {
      return error.code;
    }
    throw error;
  }

  return 'no error';
}

interface HandMadeSignature {
  certificateDer: Buffer;
  signedBy: KeyObject;
  body: Buffer;
  attributes?: Buffer[] | 'none';
  signers?: number;
  includeCertificate?: boolean;
  /** The certificate the signer names (issuer and serial), if not the included one. */
  namedCertificateDer?: Buffer;
}

// An independent, deliberately bendable encoder for the shapes no honest signer produces.
function handMade(options: HandMadeSignature): string {
  const certificate = summarizeCertificate(options.certificateDer);
  const named = summarizeCertificate(options.namedCertificateDer ?? options.certificateDer);
  const attributes = options.attributes ?? [
    sequence(oid(Oid.contentType), setOf(oid(Oid.data))),
    sequence(
      oid(Oid.messageDigest),
      setOf(octetString(createHash('sha256').update(options.body).digest())),
    ),
  ];
  const signedAttributes = attributes === 'none' ? undefined : setOf(...attributes);
  const signature = sign('sha256', signedAttributes ?? options.body, options.signedBy);
  const signerInfo = sequence(
    smallInteger(1),
    sequence(named.issuerRaw, named.serialRaw),
    sequence(oid(Oid.sha256)),
    ...(signedAttributes
      ? [Buffer.concat([Buffer.from([0xa0]), signedAttributes.subarray(1)])]
      : []),
    sequence(oid(Oid.rsaEncryption), NULL),
    octetString(signature),
  );
  const signedData = sequence(
    smallInteger(1),
    setOf(sequence(oid(Oid.sha256))),
    sequence(oid(Oid.data)),
    ...(options.includeCertificate === false ? [] : [explicit(0, certificate.der)]),
    setOf(...Array.from({ length: options.signers ?? 1 }, () => signerInfo)),
  );

  return sequence(oid(Oid.signedData), explicit(0, signedData)).toString('base64');
}

describe('SignatureVerifier', () => {
  let authority: CertificateAuthority;
  let device: DeviceIdentity;
  let signer: RequestSigner;
  let verifier: SignatureVerifier;
  const body = plistBody();

  beforeAll(async () => {
    authority = newAuthority();
    device = await authority.issueDeviceIdentity({ commonName: 'device-1' });
    signer = new RequestSigner(device);
    verifier = new SignatureVerifier(authority.certificatePem);
  });

  describe('verify', () => {
    it('accepts a RequestSigner signature and names the device certificate', () => {
      const identity = verifier.verify(signer.sign(body), body);

      expect(identity.fingerprint).toBe(device.fingerprint);
      expect(identity.certificateDer.equals(device.certificateDer)).toBe(true);
      expect(identity.subject).toBe('device-1');
      expect(identity.serialNumber).toMatch(/^[0-9a-f]+$/);
      expect(identity.notAfter.getTime()).toBeGreaterThan(Date.now());
    });

    it('accepts the same device again from its cached chain check', () => {
      const first = verifier.verify(signer.sign(body), body);
      const second = verifier.verify(signer.sign(plistBody('OTHER')), plistBody('OTHER'));

      expect(second.fingerprint).toBe(first.fingerprint);
    });

    it('keeps verifying devices when the cache is smaller than the fleet', async () => {
      const small = new SignatureVerifier(authority.certificatePem, { cacheSize: 1 });
      const other = new RequestSigner(await authority.issueDeviceIdentity({ commonName: 'd-2' }));

      for (let round = 0; round < 3; round++) {
        expect(small.verify(signer.sign(body), body).subject).toBe('device-1');
        expect(small.verify(other.sign(body), body).subject).toBe('d-2');
      }
    });

    it('accepts an empty body, as sent by some check-in retries', () => {
      const empty = Buffer.alloc(0);

      expect(verifier.verify(signer.sign(empty), empty).fingerprint).toBe(device.fingerprint);
    });

    it('accepts a header that a proxy folded with whitespace', () => {
      const folded = signer.sign(body).replace(/(.{76})/g, '$1\r\n ');

      expect(verifier.verify(folded, body).subject).toBe('device-1');
    });

    it('refuses a signature made over a different body', () => {
      const tampered = Buffer.from(body.toString().replace('Idle', 'Acknowledged'));

      expect(codeOf(() => verifier.verify(signer.sign(body), tampered))).toBe(
        'IDENTITY.SIGNATURE_INVALID',
      );
    });

    it('refuses a request without the header', () => {
      expect(codeOf(() => verifier.verify(undefined, body))).toBe('IDENTITY.SIGNATURE_MISSING');
      expect(codeOf(() => verifier.verify('', body))).toBe('IDENTITY.SIGNATURE_MISSING');
      expect(codeOf(() => verifier.verify('   ', body))).toBe('IDENTITY.SIGNATURE_MISSING');
    });

    it('refuses a device certificate from a foreign CA', async () => {
      const foreign = await newAuthority('Someone Else CA').issueDeviceIdentity({
        commonName: 'device-1',
      });

      expect(codeOf(() => verifier.verify(new RequestSigner(foreign).sign(body), body))).toBe(
        'IDENTITY.CERTIFICATE_UNTRUSTED',
      );
    });

    it('refuses a foreign CA that copied our CA name exactly', async () => {
      const lookalike = await newAuthority('Turnaround Test CA').issueDeviceIdentity({
        commonName: 'device-1',
      });

      expect(codeOf(() => verifier.verify(new RequestSigner(lookalike).sign(body), body))).toBe(
        'IDENTITY.CERTIFICATE_UNTRUSTED',
      );
    });

    it('refuses an expired device certificate', () => {
      const later = new SignatureVerifier(authority.certificatePem, {
        now: () => new Date(Date.now() + 400 * 24 * 60 * 60 * 1000),
      });
      const error = errorOf(() => later.verify(signer.sign(body), body));

      expect(error.code).toBe('IDENTITY.CERTIFICATE_EXPIRED');
      expect(error.message).toContain('device-1');
    });

    it('refuses a device certificate that is not valid yet', () => {
      const earlier = new SignatureVerifier(authority.certificatePem, {
        now: () => new Date(Date.now() - 24 * 60 * 60 * 1000),
      });

      expect(codeOf(() => earlier.verify(signer.sign(body), body))).toBe(
        'IDENTITY.CERTIFICATE_UNTRUSTED',
      );
    });

    it('refuses a certificate that expired while its chain check was cached', () => {
      let now = Date.now();
      const clocked = new SignatureVerifier(authority.certificatePem, { now: () => new Date(now) });
      clocked.verify(signer.sign(body), body);
      now += 400 * 24 * 60 * 60 * 1000;

      expect(codeOf(() => clocked.verify(signer.sign(body), body))).toBe(
        'IDENTITY.CERTIFICATE_EXPIRED',
      );
    });

    it.each([
      ['not base64', '%%%not base64%%%'],
      ['base64 of text', Buffer.from('hello world').toString('base64')],
      ['a lone tag', 'MA=='],
      ['an empty SEQUENCE', 'MAA='],
      ['a certificate instead of a signature', ''],
    ])('refuses %s as malformed', (_name, header) => {
      const value = header === '' ? device.certificateDer.toString('base64') : header;

      expect(codeOf(() => verifier.verify(value, body))).toBe('IDENTITY.SIGNATURE_MALFORMED');
    });

    it('refuses every truncation of a valid signature as malformed', () => {
      const whole = Buffer.from(signer.sign(body), 'base64');

      for (let length = 1; length < whole.length; length += 7) {
        const cut = whole.subarray(0, length).toString('base64');

        expect(codeOf(() => verifier.verify(cut, body))).toBe('IDENTITY.SIGNATURE_MALFORMED');
      }
    });

    it('answers damaged signatures with an IdentityError or the true signer, nothing else', () => {
      const whole = Buffer.from(signer.sign(body), 'base64');
      let seed = 7;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;

        return seed;
      };

      for (let round = 0; round < 400; round++) {
        const damaged = Buffer.from(whole);
        for (let flips = 1 + (random() % 3); flips > 0; flips--) {
          damaged[random() % damaged.length] = random() % 256;
        }
        try {
          expect(verifier.verify(damaged.toString('base64'), body).fingerprint).toBe(
            device.fingerprint,
          );
        } catch (error) {
          expect(error).toBeInstanceOf(IdentityError);
        }
      }
    });

    it('refuses a header far longer than any device sends', () => {
      expect(codeOf(() => verifier.verify('A'.repeat(200_000), body))).toBe(
        'IDENTITY.SIGNATURE_MALFORMED',
      );
    });

    it('refuses a CMS with no signer as an invalid signature', () => {
      const header = handMade({
        certificateDer: device.certificateDer,
        signedBy: createPrivateKey(device.privateKeyPem),
        body,
        signers: 0,
      });

      expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.SIGNATURE_INVALID');
    });

    it('refuses a CMS with two signers as malformed', () => {
      const header = handMade({
        certificateDer: device.certificateDer,
        signedBy: createPrivateKey(device.privateKeyPem),
        body,
        signers: 2,
      });

      expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.SIGNATURE_MALFORMED');
    });

    it('refuses a correctly signed messageDigest that does not fit the body', () => {
      const header = handMade({
        certificateDer: device.certificateDer,
        signedBy: createPrivateKey(device.privateKeyPem),
        body,
        attributes: [
          sequence(oid(Oid.contentType), setOf(oid(Oid.data))),
          sequence(oid(Oid.messageDigest), setOf(octetString(Buffer.alloc(20, 1)))),
        ],
      });

      expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.SIGNATURE_INVALID');
    });

    it('refuses signed attributes without a messageDigest as malformed', () => {
      const header = handMade({
        certificateDer: device.certificateDer,
        signedBy: createPrivateKey(device.privateKeyPem),
        body,
        attributes: [sequence(oid(Oid.contentType), setOf(oid(Oid.data)))],
      });

      expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.SIGNATURE_MALFORMED');
    });

    it('refuses a signature made with another key than the included certificate', async () => {
      const other = await authority.issueDeviceIdentity({ commonName: 'device-2' });
      const header = handMade({
        certificateDer: device.certificateDer,
        signedBy: createPrivateKey(other.privateKeyPem),
        body,
      });

      expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.SIGNATURE_INVALID');
    });

    it('refuses a known certificate that the signer does not name', async () => {
      const other = await authority.issueDeviceIdentity({ commonName: 'device-3' });
      // device-1's certificate is known (its chain check cached) by the tests above.
      expect(verifier.verify(signer.sign(body), body).subject).toBe('device-1');
      const header = handMade({
        certificateDer: device.certificateDer,
        namedCertificateDer: other.certificateDer,
        signedBy: createPrivateKey(other.privateKeyPem),
        body,
      });

      expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.SIGNATURE_MALFORMED');
    });

    it('refuses a signature that leaves out the signer certificate', () => {
      const header = handMade({
        certificateDer: device.certificateDer,
        signedBy: createPrivateKey(device.privateKeyPem),
        body,
        includeCertificate: false,
      });

      expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.SIGNATURE_MALFORMED');
    });

    it('accepts a signature straight over the body when there are no signed attributes', () => {
      const header = handMade({
        certificateDer: device.certificateDer,
        signedBy: createPrivateKey(device.privateKeyPem),
        body,
        attributes: 'none',
      });

      expect(verifier.verify(header, body).subject).toBe('device-1');
      expect(codeOf(() => verifier.verify(header, plistBody('X')))).toBe(
        'IDENTITY.SIGNATURE_INVALID',
      );
    });

    it('accepts an ECDSA P-256 device identity', () => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const issued = authority.issueCertificate({ commonName: 'ec-device', publicKey });
      const ecSigner = new RequestSigner({
        certificatePem: issued.certificatePem,
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      });

      expect(verifier.verify(ecSigner.sign(body), body).fingerprint).toBe(issued.fingerprint);
      expect(codeOf(() => verifier.verify(ecSigner.sign(body), plistBody('X')))).toBe(
        'IDENTITY.SIGNATURE_INVALID',
      );
    });

    it('trusts devices of every CA it was given', async () => {
      const second = newAuthority('Second CA');
      const both = new SignatureVerifier([authority.certificatePem, second.certificatePem]);
      const secondSigner = new RequestSigner(
        await second.issueDeviceIdentity({ commonName: 'device-9' }),
      );

      expect(both.verify(secondSigner.sign(body), body).subject).toBe('device-9');
      expect(both.verify(signer.sign(body), body).subject).toBe('device-1');
      expect(codeOf(() => verifier.verify(secondSigner.sign(body), body))).toBe(
        'IDENTITY.CERTIFICATE_UNTRUSTED',
      );
    });
  });

  describe('interoperability', () => {
    function forgeSignature(withAttributes: boolean): string {
      const certificate = forge.pki.certificateFromPem(device.certificatePem);
      const signedData = forge.pkcs7.createSignedData();
      signedData.content = forge.util.createBuffer(body.toString('binary'));
      signedData.addCertificate(certificate);
      signedData.addSigner({
        key: forge.pki.privateKeyFromPem(device.privateKeyPem) as forge.pki.rsa.PrivateKey,
        certificate,
        digestAlgorithm: forge.pki.oids.sha256,
        authenticatedAttributes: withAttributes
          ? [
              { type: forge.pki.oids.contentType, value: forge.pki.oids.data },
              { type: forge.pki.oids.messageDigest },
              { type: forge.pki.oids.signingTime },
            ]
          : undefined,
      });
      signedData.sign({ detached: true });

      return forge.util.encode64(forge.asn1.toDer(signedData.toAsn1()).getBytes());
    }

    it('accepts a detached signature made by node-forge', () => {
      const header = forgeSignature(true);

      expect(verifier.verify(header, body).fingerprint).toBe(device.fingerprint);
      expect(codeOf(() => verifier.verify(header, plistBody('X')))).toBe(
        'IDENTITY.SIGNATURE_INVALID',
      );
    });

    it('accepts a node-forge signature without signed attributes', () => {
      expect(verifier.verify(forgeSignature(false), body).fingerprint).toBe(device.fingerprint);
    });

    describe('with openssl cms', () => {
      let dir: string;

      beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), 'turnaround-identity-'));
      });

      afterAll(() => {
        rmSync(dir, { recursive: true, force: true });
      });

      function opensslSign(
        identity: { certificatePem: string; privateKeyPem: string },
        flags: string[],
      ): string {
        writeFileSync(join(dir, 'body'), body);
        writeFileSync(join(dir, 'signer.pem'), identity.certificatePem);
        writeFileSync(join(dir, 'signer.key'), identity.privateKeyPem, { mode: 0o600 });
        const result = spawnSync('openssl', [
          'cms',
          '-sign',
          '-binary',
          '-in',
          join(dir, 'body'),
          '-signer',
          join(dir, 'signer.pem'),
          '-inkey',
          join(dir, 'signer.key'),
          '-outform',
          'DER',
          '-out',
          join(dir, 'signature.der'),
          ...flags,
        ]);
        if (result.status !== 0) {
          throw new Error(`openssl cms -sign failed: ${result.stderr.toString()}`);
        }

        return readFileSync(join(dir, 'signature.der')).toString('base64');
      }

      withOpenssl('accepts a detached SHA-256 signature from openssl', () => {
        const header = opensslSign(device, ['-md', 'sha256']);

        expect(verifier.verify(header, body).fingerprint).toBe(device.fingerprint);
        expect(codeOf(() => verifier.verify(header, plistBody('X')))).toBe(
          'IDENTITY.SIGNATURE_INVALID',
        );
      });

      withOpenssl('trusts a device certificate that another CA signed with RSA-PSS, and only from that CA', () => {
        const run = (args: string[]): void => {
          const result = spawnSync('openssl', args, { cwd: dir });
          if (result.status !== 0) {
            throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`);
          }
        };
        run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'pss-ca.key', '-out', 'pss-ca.pem', '-subj', '/CN=PSS CA', '-days', '2']);
        run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'pss-device.key', '-out', 'pss-device.csr', '-subj', '/CN=pss-device']);
        run(['x509', '-req', '-in', 'pss-device.csr', '-CA', 'pss-ca.pem', '-CAkey', 'pss-ca.key', '-CAcreateserial', '-days', '2',
          '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-out', 'pss-device.pem']);
        const pssDevice = {
          certificatePem: readFileSync(join(dir, 'pss-device.pem'), 'utf8'),
          privateKeyPem: readFileSync(join(dir, 'pss-device.key'), 'utf8'),
        };
        const header = opensslSign(pssDevice, ['-md', 'sha256']);
        const trusting = new SignatureVerifier([authority.certificatePem, readFileSync(join(dir, 'pss-ca.pem'), 'utf8')]);

        expect(trusting.verify(header, body).subject).toBe('pss-device');
        expect(codeOf(() => verifier.verify(header, body))).toBe('IDENTITY.CERTIFICATE_UNTRUSTED');
      });

      withOpenssl('accepts a streamed (BER, indefinite length) signature from openssl', () => {
        const header = opensslSign(device, ['-md', 'sha256', '-stream']);

        expect(verifier.verify(header, body).fingerprint).toBe(device.fingerprint);
      });

      withOpenssl('accepts a SHA-1 signature as older devices send', () => {
        const header = opensslSign(device, ['-md', 'sha1']);

        expect(verifier.verify(header, body).fingerprint).toBe(device.fingerprint);
      });

      withOpenssl('accepts an openssl signature without signed attributes', () => {
        const header = opensslSign(device, ['-md', 'sha256', '-noattr']);

        expect(verifier.verify(header, body).fingerprint).toBe(device.fingerprint);
        expect(codeOf(() => verifier.verify(header, plistBody('X')))).toBe(
          'IDENTITY.SIGNATURE_INVALID',
        );
      });

      withOpenssl('accepts an openssl signature identified by subject key identifier', () => {
        const header = opensslSign(device, ['-md', 'sha256', '-keyid']);

        expect(verifier.verify(header, body).fingerprint).toBe(device.fingerprint);
      });

      withOpenssl('accepts an openssl ECDSA signature', () => {
        const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const issued = authority.issueCertificate({ commonName: 'ec-device', publicKey });
        const header = opensslSign(
          {
            certificatePem: issued.certificatePem,
            privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          },
          ['-md', 'sha256'],
        );

        expect(verifier.verify(header, body).fingerprint).toBe(issued.fingerprint);
      });
    });
  });

  describe('identityFromProxyHeader', () => {
    it('accepts nginx $ssl_client_escaped_cert (URL-encoded PEM)', () => {
      const header = encodeURIComponent(device.certificatePem);

      expect(verifier.identityFromProxyHeader(header).fingerprint).toBe(device.fingerprint);
    });

    it('accepts a plain PEM with its newlines turned into spaces', () => {
      const header = device.certificatePem.replace(/\n/g, ' ');

      expect(verifier.identityFromProxyHeader(header).subject).toBe('device-1');
    });

    it('accepts base64 DER', () => {
      const header = device.certificateDer.toString('base64');

      expect(verifier.identityFromProxyHeader(header).fingerprint).toBe(device.fingerprint);
    });

    it('refuses a certificate from a foreign CA', async () => {
      const foreign = await newAuthority('Other CA').issueDeviceIdentity({ commonName: 'x' });

      expect(
        codeOf(() => verifier.identityFromProxyHeader(encodeURIComponent(foreign.certificatePem))),
      ).toBe('IDENTITY.CERTIFICATE_UNTRUSTED');
    });

    it('refuses an expired certificate', () => {
      const later = new SignatureVerifier(authority.certificatePem, {
        now: () => new Date(Date.now() + 400 * 24 * 60 * 60 * 1000),
      });

      expect(codeOf(() => later.identityFromProxyHeader(device.certificatePem))).toBe(
        'IDENTITY.CERTIFICATE_EXPIRED',
      );
    });

    it.each([
      ['broken URL encoding', '%E0%A4%A'],
      ['text', 'not a certificate'],
      ['a PEM of something else', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'],
      ['a private key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'],
    ])('refuses %s as malformed', (_name, header) => {
      expect(codeOf(() => verifier.identityFromProxyHeader(header))).toBe(
        'IDENTITY.SIGNATURE_MALFORMED',
      );
    });

    it('refuses a missing header', () => {
      expect(codeOf(() => verifier.identityFromProxyHeader(undefined))).toBe(
        'IDENTITY.SIGNATURE_MISSING',
      );
      expect(codeOf(() => verifier.identityFromProxyHeader(''))).toBe('IDENTITY.SIGNATURE_MISSING');
    });
  });

  describe('construction', () => {
    it('refuses to start without a CA certificate', () => {
      expect(codeOf(() => new SignatureVerifier('no pem here'))).toBe('IDENTITY.MATERIAL_INVALID');
      expect(codeOf(() => new SignatureVerifier([]))).toBe('IDENTITY.MATERIAL_INVALID');
    });
  });
});

function errorOf(action: () => unknown): IdentityError {
  try {
    action();
  } catch (error) {
    if (error instanceof IdentityError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected an IdentityError');
}
