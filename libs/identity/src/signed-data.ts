// Reads the parts of a CMS SignedData (RFC 5652 §5) that signature verification needs, keeping the
// exact bytes of the signed attributes and certificates; and writes attached SignedData.
import { createHash, KeyObject, sign } from 'node:crypto';

import type { CertificateSummary } from './certificate.js';
import { DIGEST_OIDS, ECDSA_OIDS, HashName } from './cms-algorithms.js';
import {
  Asn1Error,
  Asn1Node,
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
  Tag,
  toDefiniteLength,
} from './der.js';
import { IdentityError } from './identity.errors.js';
import { Oid } from './oids.js';

export type SignerIdentifier =
  | { readonly kind: 'issuerAndSerial'; readonly issuer: Buffer; readonly serial: Buffer }
  | { readonly kind: 'subjectKeyIdentifier'; readonly keyIdentifier: Buffer };

export interface SignedAttributes {
  /** The attributes re-tagged as SET OF, the bytes the signature covers. */
  readonly encoded: Buffer;
  readonly values: ReadonlyMap<string, readonly Asn1Node[]>;
  readonly source: Buffer;
}

export interface SignerInfo {
  readonly signerIdentifier: SignerIdentifier;
  readonly digestAlgorithm: string;
  readonly signedAttributes: SignedAttributes | undefined;
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
}

export interface SignedData {
  readonly contentType: string;
  /** Encapsulated content when the signature is not detached. */
  readonly content: Buffer | undefined;
  readonly certificates: readonly Buffer[];
  readonly signers: readonly SignerInfo[];
}

/** Parses a DER or BER ContentInfo holding SignedData; throws `Asn1Error` when it is not one. */
export function parseSignedData(bytes: Buffer): SignedData {
  const contentInfo = expectConstructed(parseAsn1(bytes), Tag.Sequence, 'ContentInfo');
  const [typeNode, wrapper] = contentInfo.children;
  const contentType = oidOf(bytes, typeNode, 'ContentInfo contentType');
  if (contentType !== Oid.signedData) {
    throw new Asn1Error(`ContentInfo holds ${contentType}, not SignedData`);
  }
  if (!isContext(wrapper, 0) || !wrapper.constructed) {
    throw new Asn1Error('ContentInfo has no content');
  }

  const signedData = expectConstructed(wrapper.children[0], Tag.Sequence, 'SignedData');
  const fields = signedData.children;
  expectUniversal(fields[0], Tag.Integer, 'SignedData version');
  expectConstructed(fields[1], Tag.Set, 'SignedData digestAlgorithms');
  const encapsulated = expectConstructed(fields[2], Tag.Sequence, 'SignedData encapContentInfo');

  let index = 3;
  let certificates: Buffer[] = [];
  if (isContext(fields[index], 0)) {
    certificates = fields[index].children
      .filter((child) => isUniversal(child, Tag.Sequence))
      .map((child) => toDefiniteLength(bytes, child));
    index++;
  }
  if (isContext(fields[index], 1)) {
    index++;
  }
  const signerInfos = expectConstructed(fields[index], Tag.Set, 'SignedData signerInfos');

  return {
    contentType: oidOf(bytes, encapsulated.children[0], 'encapContentInfo eContentType'),
    content: encapsulatedContent(bytes, encapsulated),
    certificates,
    signers: signerInfos.children.map((node) => parseSignerInfo(bytes, node)),
  };
}

function encapsulatedContent(bytes: Buffer, encapsulated: Asn1Node): Buffer | undefined {
  const explicit = encapsulated.children[1];
  if (explicit === undefined) {
    return undefined;
  }
  if (!isContext(explicit, 0) || !explicit.constructed) {
    throw new Asn1Error('encapContentInfo eContent is not [0]');
  }

  return octetStringOf(bytes, explicit.children[0], 'encapContentInfo eContent');
}

function parseSignerInfo(bytes: Buffer, node: Asn1Node): SignerInfo {
  const fields = expectConstructed(node, Tag.Sequence, 'SignerInfo').children;
  expectUniversal(fields[0], Tag.Integer, 'SignerInfo version');
  const signerIdentifier = parseSignerIdentifier(bytes, fields[1]);
  const digestAlgorithm = algorithmOf(bytes, fields[2], 'SignerInfo digestAlgorithm');

  let index = 3;
  let signedAttributes: SignedAttributes | undefined;
  if (isContext(fields[index], 0)) {
    signedAttributes = parseSignedAttributes(bytes, fields[index]);
    index++;
  }
  const signatureAlgorithm = algorithmOf(bytes, fields[index++], 'SignerInfo signatureAlgorithm');
  const signature = octetStringOf(bytes, fields[index], 'SignerInfo signature');

  return { signerIdentifier, digestAlgorithm, signedAttributes, signatureAlgorithm, signature };
}

function parseSignerIdentifier(bytes: Buffer, node: Asn1Node | undefined): SignerIdentifier {
  if (isContext(node, 0) && !node.constructed) {
    return {
      kind: 'subjectKeyIdentifier',
      keyIdentifier: bytes.subarray(node.contentStart, node.contentEnd),
    };
  }

  const sid = expectConstructed(node, Tag.Sequence, 'SignerInfo sid');
  const issuer = expectConstructed(sid.children[0], Tag.Sequence, 'sid issuer');
  const serial = expectUniversal(sid.children[1], Tag.Integer, 'sid serialNumber');

  return {
    kind: 'issuerAndSerial',
    issuer: toDefiniteLength(bytes, issuer),
    serial: rawOf(bytes, serial),
  };
}

function parseSignedAttributes(bytes: Buffer, node: Asn1Node): SignedAttributes {
  if (!node.constructed) {
    throw new Asn1Error('SignerInfo signedAttrs is not constructed');
  }

  const values = new Map<string, Asn1Node[]>();
  for (const attribute of node.children) {
    const [type, set] = expectConstructed(attribute, Tag.Sequence, 'signed attribute').children;
    const id = oidOf(bytes, type, 'signed attribute type');
    const members = expectConstructed(set, Tag.Set, 'signed attribute values').children;
    if (values.has(id)) {
      // RFC 5652 §5.3: each signed attribute type appears once.
      throw new Asn1Error(`signed attribute ${id} appears twice`);
    }
    values.set(id, [...members]);
  }

  // The signer signed the DER of the attributes under the universal SET tag, not the [0] the
  // SignerInfo carries (RFC 5652 §5.4).
  const encoded = Buffer.from(toDefiniteLength(bytes, node));
  encoded[0] = 0x31;

  return { encoded, values, source: bytes };
}

function algorithmOf(bytes: Buffer, node: Asn1Node | undefined, what: string): string {
  const algorithm = expectConstructed(node, Tag.Sequence, what);

  return oidOf(bytes, algorithm.children[0], what);
}

// --- writing ------------------------------------------------------------------------------------

export interface SignedDataSigner {
  readonly key: KeyObject;
  /** The signer's certificate; its issuer and serial number identify the signer. */
  readonly certificate: CertificateSummary;
  readonly hash: HashName;
  /** Signed attributes besides contentType and messageDigest, each a complete Attribute. */
  readonly attributes: readonly Buffer[];
}

export interface SignedDataOptions {
  /** Encapsulated id-data content; left out, the SignedData carries no eContent. */
  readonly content?: Buffer;
  readonly certificates: readonly Buffer[];
  /** Without one the SignedData is degenerate: certificates only (RFC 5652 §5.2). */
  readonly signer?: SignedDataSigner;
}

/** One Attribute: a type and its values. */
export function attribute(type: string, ...values: Buffer[]): Buffer {
  return sequence(oid(type), setOf(...values));
}

/** A DER ContentInfo holding SignedData, signed over contentType and messageDigest attributes. */
export function buildSignedData(options: SignedDataOptions): Buffer {
  const { content, signer } = options;
  const encapsulated =
    content === undefined
      ? sequence(oid(Oid.data))
      : sequence(oid(Oid.data), explicit(0, octetString(content)));
  const certificates =
    options.certificates.length > 0 ? [explicit(0, ...options.certificates)] : [];
  const digestAlgorithm = signer && sequence(oid(DIGEST_OIDS[signer.hash]));
  const signerInfos =
    signer && digestAlgorithm
      ? setOf(signerInfo(signer, digestAlgorithm, content ?? Buffer.alloc(0)))
      : setOf();
  const signedData = sequence(
    smallInteger(1),
    digestAlgorithm ? setOf(digestAlgorithm) : setOf(),
    encapsulated,
    ...certificates,
    signerInfos,
  );

  return sequence(oid(Oid.signedData), explicit(0, signedData));
}

function signerInfo(signer: SignedDataSigner, digestAlgorithm: Buffer, content: Buffer): Buffer {
  const digest = createHash(signer.hash).update(content).digest();
  const signedAttributes = setOf(
    attribute(Oid.contentType, oid(Oid.data)),
    attribute(Oid.messageDigest, octetString(digest)),
    ...signer.attributes,
  );
  const signature = sign(signer.hash, signedAttributes, signer.key);
  // Signed as a SET OF, carried as [0] IMPLICIT (RFC 5652 §5.4).
  signedAttributes[0] = 0xa0;

  return sequence(
    smallInteger(1),
    sequence(signer.certificate.issuerRaw, signer.certificate.serialRaw),
    digestAlgorithm,
    signedAttributes,
    signatureAlgorithmOf(signer.key, signer.hash),
    octetString(signature),
  );
}

function signatureAlgorithmOf(key: KeyObject, hash: HashName): Buffer {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return sequence(oid(Oid.rsaEncryption), NULL);
    case 'ec':
      return sequence(oid(ECDSA_OIDS[hash]));
    default:
      throw new IdentityError(
        'IDENTITY.MATERIAL_INVALID',
        `A ${key.asymmetricKeyType ?? 'unknown'} key cannot sign CMS here; use RSA or EC.`,
      );
  }
}
