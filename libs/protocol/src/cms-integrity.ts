import { createHash, KeyObject, timingSafeEqual, verify, X509Certificate } from 'node:crypto';

import forge from 'node-forge';

type Asn1 = forge.asn1.Asn1;
type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * The outcome of {@link checkCmsIntegrity}. `intact` says the attached content was signed by the
 * key of a certificate the envelope itself carries; it says nothing about who issued that
 * certificate.
 */
export type CmsIntegrity =
  | { intact: true; content: Uint8Array; signerCertificate: Uint8Array }
  | { intact: false; reason: string };

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  subjectKeyIdentifier: '2.5.29.14',
} as const;

const DIGESTS: ReadonlyMap<string, HashName> = new Map([
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

// Signature algorithm -> the key type it needs and the hash it names (none: the digestAlgorithm).
const SIGNATURES: ReadonlyMap<string, { keyType: 'rsa' | 'ec'; hash?: HashName }> = new Map([
  ['1.2.840.113549.1.1.1', { keyType: 'rsa' }],
  ['1.2.840.113549.1.1.5', { keyType: 'rsa', hash: 'sha1' }],
  ['1.2.840.113549.1.1.11', { keyType: 'rsa', hash: 'sha256' }],
  ['1.2.840.113549.1.1.12', { keyType: 'rsa', hash: 'sha384' }],
  ['1.2.840.113549.1.1.13', { keyType: 'rsa', hash: 'sha512' }],
  ['1.2.840.10045.2.1', { keyType: 'ec' }],
  ['1.2.840.10045.4.1', { keyType: 'ec', hash: 'sha1' }],
  ['1.2.840.10045.4.3.2', { keyType: 'ec', hash: 'sha256' }],
  ['1.2.840.10045.4.3.3', { keyType: 'ec', hash: 'sha384' }],
  ['1.2.840.10045.4.3.4', { keyType: 'ec', hash: 'sha512' }],
]);

// The typings only list the boolean form of the second argument; the options object is real.
const fromDer = forge.asn1.fromDer as unknown as (
  bytes: string,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Asn1;

class NotIntact extends Error {}

function refuse(reason: string): never {
  throw new NotIntact(reason);
}

/**
 * Checks that a CMS SignedData (DER or BER, content attached, e.g. a device's MachineInfo) was
 * signed by the certificate it carries: every signer's signature verifies with its own
 * certificate's key, over the signed attributes whose messageDigest matches the content (or over
 * the content itself when there are none).
 *
 * It proves integrity only: anyone can make a certificate and sign with it. Checking the signer's
 * chain against a trust anchor (Apple's device CA for MachineInfo) is the caller's policy.
 * Never throws for bad input; an unreadable envelope is reported as not intact with the reason.
 */
export function checkCmsIntegrity(der: Uint8Array): CmsIntegrity {
  try {
    return { intact: true, ...verifySignedData(der) };
  } catch (error) {
    if (error instanceof NotIntact) return { intact: false, reason: error.message };

    return { intact: false, reason: `the envelope is not readable CMS: ${messageOf(error)}` };
  }
}

function verifySignedData(der: Uint8Array): { content: Uint8Array; signerCertificate: Buffer } {
  const root = fromDer(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1'), {
    strict: true,
    parseAllBytes: true,
    decodeBitStrings: false,
  });
  const [contentType, explicitContent] = children(root, 'ContentInfo');

  if (oidOf(contentType, 'ContentInfo contentType') !== OID.signedData) {
    refuse('the content type is not SignedData');
  }

  const [signedData] = children(context(explicitContent, 0, 'ContentInfo content'), 'content');
  const fields = children(signedData, 'SignedData');
  const encapsulated = children(fields[2], 'encapContentInfo');
  const eContentType = oidOf(encapsulated[0], 'eContentType');

  if (encapsulated[1] === undefined) refuse('the signature is detached; no content is attached');

  const [eContent] = children(context(encapsulated[1], 0, 'eContent'), 'eContent');
  const content = Buffer.from(octets(eContent, 'eContent'), 'latin1');
  const certificates = fields
    .filter((node) => isContext(node, 0))
    .flatMap((node) => children(node, 'certificates'))
    .filter((node) => isUniversal(node, forge.asn1.Type.SEQUENCE));
  const signerInfos = fields.at(-1);

  if (!isUniversal(signerInfos, forge.asn1.Type.SET)) refuse('SignedData has no signerInfos');

  const signers = children(signerInfos, 'signerInfos');

  if (signers.length === 0) refuse('SignedData has no signer, so it proves nothing');

  const signerCertificates = signers.map((signer) =>
    verifySigner(signer, content, eContentType, certificates),
  );

  return { content: new Uint8Array(content), signerCertificate: signerCertificates[0] };
}

function verifySigner(
  signer: Asn1,
  content: Buffer,
  eContentType: string,
  certificates: readonly Asn1[],
): Buffer {
  const fields = children(signer, 'SignerInfo');
  const certificate = certificates.find((candidate) => identifies(fields[1], candidate));

  if (certificate === undefined) refuse("the envelope does not carry its signer's certificate");

  const digestOid = oidOf(children(fields[2], 'digestAlgorithm')[0], 'digestAlgorithm');
  const digest = DIGESTS.get(digestOid) ?? refuse(`digest algorithm ${digestOid} is not supported`);
  const attributes = isContext(fields[3], 0) ? fields[3] : undefined;
  const rest = fields.slice(attributes ? 4 : 3);
  const algorithmOid = oidOf(children(rest[0], 'signatureAlgorithm')[0], 'signatureAlgorithm');
  const algorithm =
    SIGNATURES.get(algorithmOid) ?? refuse(`signature algorithm ${algorithmOid} is not supported`);
  const signature = Buffer.from(octets(rest[1], 'signature'), 'latin1');
  let signed: Buffer = content;

  if (attributes) {
    checkSignedAttributes(attributes, createHash(digest).update(content).digest(), eContentType);
    // The signature covers the attributes as a universal SET OF, not the [0] they travel in.
    signed = bytesOf(
      forge.asn1.create(
        forge.asn1.Class.UNIVERSAL,
        forge.asn1.Type.SET,
        true,
        children(attributes, 'signedAttrs'),
      ),
    );
  }

  const certificateDer = bytesOf(certificate);
  const key = publicKeyOf(certificateDer);

  if (
    key.asymmetricKeyType !== algorithm.keyType ||
    !holds(algorithm.hash ?? digest, signed, key, signature)
  ) {
    refuse('the signature does not verify with the key of the certificate it names');
  }

  return certificateDer;
}

function checkSignedAttributes(attributes: Asn1, digest: Buffer, eContentType: string): void {
  const values = new Map<string, Asn1[]>();

  for (const attribute of children(attributes, 'signedAttrs')) {
    const [type, set] = children(attribute, 'signed attribute');
    const id = oidOf(type, 'signed attribute type');

    // RFC 5652 §5.3: each signed attribute type appears once.
    if (values.has(id)) refuse(`signed attribute ${id} appears twice`);
    values.set(id, children(set, 'signed attribute values'));
  }

  const declaredType = values.get(OID.contentType);

  if (
    declaredType &&
    (declaredType.length !== 1 || oidOf(declaredType[0], 'contentType') !== eContentType)
  ) {
    refuse('the signed contentType attribute does not name the attached content');
  }

  const messageDigest = values.get(OID.messageDigest);

  if (messageDigest?.length !== 1) refuse('the signed attributes hold no single messageDigest');

  const expected = Buffer.from(octets(messageDigest[0], 'messageDigest'), 'latin1');

  if (expected.length !== digest.length || !timingSafeEqual(expected, digest)) {
    refuse('the content changed after it was signed (messageDigest does not match)');
  }
}

/** Whether a SignerIdentifier names this certificate (issuer and serial, or key identifier). */
function identifies(sid: Asn1 | undefined, certificate: Asn1): boolean {
  const tbs = children(children(certificate, 'Certificate')[0], 'TBSCertificate');
  const fields = isContext(tbs[0], 0) ? tbs.slice(1) : tbs;

  if (isContext(sid, 0) && !sid.constructed) {
    return subjectKeyIdentifierOf(fields) === sid.value;
  }

  const [issuer, serial] = children(sid, 'SignerIdentifier');

  return (
    typeof serial?.value === 'string' &&
    serial.value === fields[0]?.value &&
    issuer !== undefined &&
    fields[2] !== undefined &&
    bytesOf(issuer).equals(bytesOf(fields[2]))
  );
}

function subjectKeyIdentifierOf(tbsFields: readonly Asn1[]): string | undefined {
  const extensions = tbsFields.find((node) => isContext(node, 3));

  if (extensions === undefined) return undefined;

  for (const extension of children(children(extensions, 'extensions')[0], 'Extensions')) {
    const parts = children(extension, 'Extension');

    if (oidOf(parts[0], 'extnID') === OID.subjectKeyIdentifier) {
      const value = fromDer(octets(parts.at(-1)!, 'extnValue'), {
        strict: true,
        parseAllBytes: true,
        decodeBitStrings: false,
      });

      return octets(value, 'subjectKeyIdentifier');
    }
  }

  return undefined;
}

function publicKeyOf(certificateDer: Buffer): KeyObject {
  try {
    return new X509Certificate(certificateDer).publicKey;
  } catch (error) {
    return refuse(`the signer's certificate cannot be read: ${messageOf(error)}`);
  }
}

function holds(hash: HashName, data: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

function children(node: Asn1 | undefined, what: string): Asn1[] {
  if (node === undefined || !Array.isArray(node.value))
    refuse(`${what} is not a constructed value`);

  return node.value;
}

function context(node: Asn1 | undefined, tag: number, what: string): Asn1 {
  if (!isContext(node, tag)) refuse(`${what} is not [${tag}]`);

  return node;
}

function isContext(node: Asn1 | undefined, tag: number): node is Asn1 {
  return (
    node !== undefined && node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && node.type === tag
  );
}

function isUniversal(node: Asn1 | undefined, type: forge.asn1.Type): node is Asn1 {
  return node !== undefined && node.tagClass === forge.asn1.Class.UNIVERSAL && node.type === type;
}

function oidOf(node: Asn1 | undefined, what: string): string {
  if (!isUniversal(node, forge.asn1.Type.OID) || typeof node.value !== 'string') {
    refuse(`${what} is not an OBJECT IDENTIFIER`);
  }

  return forge.asn1.derToOid(node.value);
}

// An OCTET STRING may arrive BER-constructed (chunks); the value is their concatenation.
function octets(node: Asn1, what: string): string {
  if (!isUniversal(node, forge.asn1.Type.OCTETSTRING)) refuse(`${what} is not an OCTET STRING`);
  if (typeof node.value === 'string') return node.value;

  return node.value.map((chunk) => octets(chunk, what)).join('');
}

// Re-encoding keeps DER input byte for byte; BER lengths become definite, which is what the
// signer hashed for the parts that must be DER (signed attributes).
function bytesOf(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'latin1');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
