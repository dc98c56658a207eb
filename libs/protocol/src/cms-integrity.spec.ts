import { createHash, generateKeyPairSync, KeyObject, sign } from 'node:crypto';

import forge from 'node-forge';

import { checkCmsIntegrity } from './cms-integrity.js';
import { readFixture } from './testing/fixtures.js';
import { createTestIdentity, signAttached, type TestIdentity } from './testing/signing.js';

const machineInfo = readFixture('ade', 'machineinfo-ios11-ipad.plist');
const identity = createTestIdentity('Turnaround test device');

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

function der(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'latin1');
}

function fromBuffer(bytes: Buffer): forge.asn1.Asn1 {
  return asn1.fromDer(bytes.toString('latin1'));
}

function seq(...items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, items);
}

function set(...items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(U, T.SET, true, items);
}

function oid(dotted: string): forge.asn1.Asn1 {
  return asn1.create(U, T.OID, false, asn1.oidToDer(dotted).getBytes());
}

function octets(bytes: Buffer): forge.asn1.Asn1 {
  return asn1.create(U, T.OCTETSTRING, false, bytes.toString('latin1'));
}

function context(tag: number, constructed: boolean, value: forge.asn1.Asn1[] | string) {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, constructed, value);
}

function certificateDer(of: TestIdentity): Buffer {
  return der(forge.pki.certificateToAsn1(of.certificate));
}

/** A self-signed P-256 certificate with a subjectKeyIdentifier, built by hand (forge is RSA-only). */
function ecIdentity(): { key: KeyObject; certificate: Buffer; keyId: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha1').update(spki).digest();
  const name = seq(set(seq(oid('2.5.4.3'), asn1.create(U, T.UTF8, false, 'EC test device'))));
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const tbs = seq(
    context(0, true, [asn1.create(U, T.INTEGER, false, '\x02')]),
    asn1.create(U, T.INTEGER, false, '\x07'),
    ecdsaWithSha256,
    name,
    seq(
      asn1.create(U, T.UTCTIME, false, '250101000000Z'),
      asn1.create(U, T.UTCTIME, false, '350101000000Z'),
    ),
    name,
    fromBuffer(spki),
    context(3, true, [seq(seq(oid('2.5.29.14'), octets(der(octets(keyId)))))]),
  );
  const signature = sign('sha256', der(tbs), privateKey);
  const certificate = der(
    seq(
      tbs,
      ecdsaWithSha256,
      asn1.create(U, T.BITSTRING, false, `\x00${signature.toString('latin1')}`),
    ),
  );

  return { key: privateKey, certificate, keyId };
}

/** CMS SignedData as a device makes it: one ECDSA signer named by key identifier, attributes signed. */
function signWithEc(
  content: Buffer,
  signer: ReturnType<typeof ecIdentity>,
  others: Buffer[] = [],
): Buffer {
  const attributes = [
    seq(oid('1.2.840.113549.1.9.3'), set(oid('1.2.840.113549.1.7.1'))),
    seq(oid('1.2.840.113549.1.9.4'), set(octets(createHash('sha256').update(content).digest()))),
  ];
  const signature = sign('sha256', der(set(...attributes)), signer.key);
  const sha256 = seq(oid('2.16.840.1.101.3.4.2.1'));
  const signerInfo = seq(
    asn1.create(U, T.INTEGER, false, '\x03'),
    context(0, false, signer.keyId.toString('latin1')),
    sha256,
    context(0, true, attributes),
    seq(oid('1.2.840.10045.4.3.2')),
    octets(signature),
  );
  const signedData = seq(
    asn1.create(U, T.INTEGER, false, '\x03'),
    set(sha256),
    seq(oid('1.2.840.113549.1.7.1'), context(0, true, [octets(content)])),
    context(0, true, [...others, signer.certificate].map(fromBuffer)),
    set(signerInfo),
  );

  return der(seq(oid('1.2.840.113549.1.7.2'), context(0, true, [signedData])));
}

function forgeSigned(
  content: Buffer,
  options: { carry?: TestIdentity[]; attributes?: boolean; detached?: boolean } = {},
): Buffer {
  const p7 = forge.pkcs7.createSignedData();

  p7.content = forge.util.createBuffer(content.toString('latin1'));
  for (const certificate of options.carry ?? [identity]) p7.addCertificate(certificate.certificate);
  p7.addSigner({
    key: identity.key,
    certificate: identity.certificate,
    digestAlgorithm: forge.pki.oids.sha256,
    authenticatedAttributes:
      options.attributes === false
        ? []
        : [
            { type: forge.pki.oids.contentType, value: forge.pki.oids.data },
            { type: forge.pki.oids.messageDigest },
          ],
  });
  p7.sign({ detached: options.detached ?? false });

  return der(p7.toAsn1());
}

describe('checkCmsIntegrity', () => {
  it('finds a signed MachineInfo intact and hands back its content and signer', () => {
    const result = checkCmsIntegrity(signAttached(machineInfo, identity));

    expect(result).toEqual({
      intact: true,
      content: new Uint8Array(machineInfo),
      signerCertificate: certificateDer(identity),
    });
  });

  it('verifies a signer without signed attributes over the content itself', () => {
    expect(checkCmsIntegrity(forgeSigned(machineInfo, { attributes: false }))).toMatchObject({
      intact: true,
    });
  });

  it('verifies an ECDSA signer named by its subject key identifier', () => {
    const signer = ecIdentity();
    // Another certificate first: the signer is found by its key identifier, not by position.
    const result = checkCmsIntegrity(signWithEc(machineInfo, signer, [certificateDer(identity)]));

    expect(result).toEqual({
      intact: true,
      content: new Uint8Array(machineInfo),
      signerCertificate: signer.certificate,
    });
  });

  it('refuses content changed after signing', () => {
    const signed = signAttached(machineInfo, identity);

    signed.write('en-GB', signed.indexOf('en-AU'), 'latin1');

    expect(checkCmsIntegrity(signed)).toEqual({
      intact: false,
      reason: 'the content changed after it was signed (messageDigest does not match)',
    });
  });

  it('refuses content changed after signing when no attributes were signed', () => {
    const signed = forgeSigned(machineInfo, { attributes: false });

    signed.write('en-GB', signed.indexOf('en-AU'), 'latin1');

    expect(checkCmsIntegrity(signed)).toMatchObject({
      intact: false,
      reason: expect.stringMatching(/does not verify/),
    });
  });

  it('refuses a signature that was altered', () => {
    const signed = signAttached(machineInfo, identity);

    // The signature value is the last thing in the envelope.
    signed[signed.length - 5] ^= 0xff;

    expect(checkCmsIntegrity(signed)).toMatchObject({
      intact: false,
      reason: expect.stringMatching(/does not verify/),
    });
  });

  it("refuses an envelope that carries someone else's certificate under the signer's name", () => {
    // Same subject, issuer and serial as the signer, another key.
    const impostor = createTestIdentity('Turnaround test device');

    expect(checkCmsIntegrity(forgeSigned(machineInfo, { carry: [impostor] }))).toMatchObject({
      intact: false,
      reason: expect.stringMatching(/does not verify/),
    });
  });

  it("refuses an envelope without the signer's certificate", () => {
    const other = createTestIdentity('Someone else');

    expect(checkCmsIntegrity(forgeSigned(machineInfo, { carry: [other] }))).toEqual({
      intact: false,
      reason: "the envelope does not carry its signer's certificate",
    });
  });

  it('refuses a detached signature, which leaves nothing to read', () => {
    expect(checkCmsIntegrity(forgeSigned(machineInfo, { detached: true }))).toMatchObject({
      intact: false,
      reason: expect.stringMatching(/detached/),
    });
  });

  it.each([
    ['garbage', Buffer.from('hello')],
    ['a truncated envelope', signAttached(machineInfo, identity).subarray(0, 200)],
    ['a bare plist', machineInfo],
    ['an empty body', Buffer.alloc(0)],
    ['a SEQUENCE that is not SignedData', Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05])],
  ])('reports %s as not intact without throwing', (_name, bytes) => {
    const result = checkCmsIntegrity(bytes);

    expect(result.intact).toBe(false);
  });
});
