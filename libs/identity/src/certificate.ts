import { createHash, KeyObject, randomBytes, sign } from 'node:crypto';

import {
  Asn1Error,
  Asn1Node,
  bitString,
  bitStringOctetsOf,
  booleanValue,
  contentOf,
  expectConstructed,
  expectUniversal,
  explicit,
  isContext,
  isUniversal,
  NULL,
  octetString,
  octetStringOf,
  oid,
  oidOf,
  parseAsn1,
  rawOf,
  sequence,
  setOf,
  smallInteger,
  stringOf,
  Tag,
  time,
  timeOf,
  tlv,
  unsignedInteger,
  utf8String,
} from './der.js';
import { IdentityError } from './identity.errors.js';
import { Oid } from './oids.js';

/** What the library needs to know about a certificate, read straight from its DER. */
export interface CertificateSummary {
  readonly der: Buffer;
  readonly fingerprint: string;
  /** Lower-case hex, without leading zero octets. */
  readonly serialNumber: string;
  /** The serial number INTEGER as encoded, for matching a CMS IssuerAndSerialNumber. */
  readonly serialRaw: Buffer;
  readonly issuerRaw: Buffer;
  readonly subjectRaw: Buffer;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectKeyIdentifier: Buffer | undefined;
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The lower-case hex SHA-256 of a certificate's DER: the identity key used across Turnaround.
 * Accepts DER bytes or a PEM string (the first certificate in it).
 */
export function fingerprintOf(certificateDerOrPem: Uint8Array | string): string {
  if (typeof certificateDerOrPem !== 'string') {
    return sha256Hex(certificateDerOrPem);
  }

  const [der] = pemBlocks(certificateDerOrPem, 'CERTIFICATE');
  if (der === undefined) {
    throw new IdentityError(
      'IDENTITY.MATERIAL_INVALID',
      'No "BEGIN CERTIFICATE" block found; pass DER bytes or a PEM certificate.',
    );
  }

  return sha256Hex(der);
}

const PEM_PATTERN = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----/g;

/** Every PEM block with the given label, decoded; whitespace inside a block is ignored. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const blocks: Buffer[] = [];
  for (const match of text.matchAll(PEM_PATTERN)) {
    if (match[1] !== label) {
      continue;
    }
    const body = match[2].replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
      continue;
    }
    blocks.push(Buffer.from(body, 'base64'));
  }

  return blocks;
}

export function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];

  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Reads the fields we use; throws `Asn1Error` when the DER is not a certificate. */
export function summarizeCertificate(der: Buffer): CertificateSummary {
  const root = expectConstructed(parseAsn1(der), Tag.Sequence, 'Certificate');
  const tbs = expectConstructed(root.children[0], Tag.Sequence, 'TBSCertificate');
  const fields = tbs.children;
  let index = isContext(fields[0], 0) ? 1 : 0;

  const serial = expectUniversal(fields[index++], Tag.Integer, 'certificate serial number');
  expectConstructed(fields[index++], Tag.Sequence, 'certificate signature algorithm');
  const issuer = expectConstructed(fields[index++], Tag.Sequence, 'certificate issuer');
  const validity = expectConstructed(fields[index++], Tag.Sequence, 'certificate validity');
  const subject = expectConstructed(fields[index++], Tag.Sequence, 'certificate subject');
  expectConstructed(fields[index++], Tag.Sequence, 'certificate public key');
  const extensions = fields.slice(index).find((field) => isContext(field, 3));

  return {
    der,
    fingerprint: sha256Hex(der),
    serialNumber: serialHex(contentOf(der, serial)),
    serialRaw: rawOf(der, serial),
    issuerRaw: rawOf(der, issuer),
    subjectRaw: rawOf(der, subject),
    commonName: commonNameOf(der, subject),
    notBefore: timeOf(der, validity.children[0], 'certificate notBefore'),
    notAfter: timeOf(der, validity.children[1], 'certificate notAfter'),
    subjectKeyIdentifier: extensions && subjectKeyIdentifierOf(der, extensions),
  };
}

/** What checking a certificate's issuer and using its key need, apart from the summary. */
export interface CertificateKeyAndSignature {
  /** The DER SubjectPublicKeyInfo. */
  readonly subjectPublicKeyInfo: Buffer;
  /** The signed part (TBSCertificate, DER), the issuer's signature algorithm and signature. */
  readonly tbs: Buffer;
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
}

/**
 * Reads a certificate's key and its issuer's signature; throws `Asn1Error` when the DER is not a
 * certificate. Kept apart from {@link summarizeCertificate}, which every signed request runs.
 */
export function keyAndSignatureOf(der: Buffer): CertificateKeyAndSignature {
  const root = expectConstructed(parseAsn1(der), Tag.Sequence, 'Certificate');
  const tbs = expectConstructed(root.children[0], Tag.Sequence, 'TBSCertificate');
  // version [0], serial, signature, issuer, validity, subject, then the key.
  const publicKey = tbs.children[isContext(tbs.children[0], 0) ? 6 : 5];
  const algorithm = expectConstructed(root.children[1], Tag.Sequence, 'certificate signature algorithm');

  return {
    subjectPublicKeyInfo: rawOf(der, expectConstructed(publicKey, Tag.Sequence, 'certificate public key')),
    tbs: rawOf(der, tbs),
    signatureAlgorithm: oidOf(der, algorithm.children[0], 'certificate signature algorithm'),
    signature: bitStringOctetsOf(der, root.children[2], 'certificate signature'),
  };
}

function serialHex(content: Buffer): string {
  const hex = content.toString('hex').replace(/^(00)+/, '');

  return hex === '' ? '00' : hex;
}

/** The first common name in a Name; empty when it has none. */
export function commonNameOf(der: Buffer, name: Asn1Node): string {
  for (const rdn of name.children) {
    for (const attribute of rdn.children) {
      const [type, value] = attribute.children;
      if (isUniversal(type, Tag.ObjectIdentifier) && value && !value.constructed) {
        if (oidOf(der, type, 'name attribute') === Oid.commonName) {
          return stringOf(der, value);
        }
      }
    }
  }

  return '';
}

function subjectKeyIdentifierOf(der: Buffer, wrapper: Asn1Node): Buffer | undefined {
  const list = expectConstructed(wrapper.children[0], Tag.Sequence, 'certificate extensions');
  for (const extension of list.children) {
    const [id, ...rest] = extension.children;
    if (oidOf(der, id, 'extension id') !== Oid.subjectKeyIdentifier) {
      continue;
    }
    const value = octetStringOf(der, rest[rest.length - 1], 'subject key identifier');
    const inner = parseAsn1(value);

    return octetStringOf(value, inner, 'subject key identifier');
  }

  return undefined;
}

// --- issuing ------------------------------------------------------------------------------------

export interface CertificateTemplate {
  readonly issuerName: Buffer;
  readonly subjectName: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectPublicKeyInfo: Buffer;
  readonly extensions: readonly Buffer[];
  readonly signingKey: KeyObject;
}

/** Builds and signs an X.509 v3 certificate with SHA-256, RSA or ECDSA by the signing key. */
export function buildCertificate(template: CertificateTemplate): Buffer {
  const algorithm = signatureAlgorithmFor(template.signingKey);
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(randomSerial()),
    algorithm,
    template.issuerName,
    sequence(time(template.notBefore), time(template.notAfter)),
    template.subjectName,
    template.subjectPublicKeyInfo,
    explicit(3, sequence(...template.extensions)),
  );
  const signature = sign('sha256', tbs, template.signingKey);

  return sequence(tbs, algorithm, bitString(signature));
}

/** AlgorithmIdentifier for a SHA-256 signature by this key. */
export function signatureAlgorithmFor(key: KeyObject): Buffer {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return sequence(oid(Oid.sha256WithRsa), NULL);
    case 'ec':
      return sequence(oid(Oid.ecdsaWithSha256));
    default:
      throw new IdentityError(
        'IDENTITY.MATERIAL_INVALID',
        `A ${key.asymmetricKeyType ?? 'unknown'} key cannot sign here; use an RSA or EC P-256 key.`,
      );
  }
}

// Positive, never starting with a zero octet, 127 random bits: RFC 5280 allows 20 octets and
// CA/Browser rules ask for at least 64 random bits.
function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40;

  return serial;
}

export function distinguishedName(parts: { organization?: string; commonName: string }): Buffer {
  const rdn = (type: string, value: string): Buffer =>
    setOf(sequence(oid(type), utf8String(value)));
  const rdns = [rdn(Oid.commonName, parts.commonName)];
  if (parts.organization) {
    rdns.unshift(rdn(Oid.organizationName, parts.organization));
  }

  return sequence(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(id), booleanValue(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

export const KeyUsageBit = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

export function keyUsageExtension(bits: readonly number[]): Buffer {
  const flags = bits.reduce((value, bit) => value | (0x80 >> bit), 0);
  let unused = 0;
  while (unused < 7 && (flags & (1 << unused)) === 0) {
    unused++;
  }

  return extension(Oid.keyUsage, true, tlv(0x03, Buffer.from([unused, flags])));
}

export function basicConstraintsExtension(isAuthority: boolean): Buffer {
  return extension(
    Oid.basicConstraints,
    true,
    isAuthority ? sequence(booleanValue(true)) : sequence(),
  );
}

export function clientAuthExtension(): Buffer {
  return extension(Oid.extKeyUsage, false, sequence(oid(Oid.clientAuth)));
}

export function subjectKeyIdentifierExtension(keyIdentifier: Buffer): Buffer {
  return extension(Oid.subjectKeyIdentifier, false, octetString(keyIdentifier));
}

export function authorityKeyIdentifierExtension(keyIdentifier: Buffer): Buffer {
  return extension(Oid.authorityKeyIdentifier, false, sequence(tlv(0x80, keyIdentifier)));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifierOf(subjectPublicKeyInfo: Buffer): Buffer {
  const spki = parseAsn1(subjectPublicKeyInfo);
  const bits = spki.children[1];
  if (!isUniversal(bits, Tag.BitString)) {
    throw new Asn1Error('subject public key is not a BIT STRING');
  }

  return createHash('sha1')
    .update(subjectPublicKeyInfo.subarray(bits.contentStart + 1, bits.contentEnd))
    .digest();
}
