// Reads the parts of a CMS SignedData (RFC 5652 §5) that signature verification needs, keeping the
// exact bytes of the signed attributes and certificates.
import {
  Asn1Error,
  Asn1Node,
  expectConstructed,
  expectUniversal,
  isContext,
  isUniversal,
  octetStringOf,
  oidOf,
  parseAsn1,
  rawOf,
  Tag,
  toDefiniteLength,
} from './der.js';
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
