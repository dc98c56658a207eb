import forge from 'node-forge';

import { ProtocolError } from './protocol.errors.js';

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';

type Asn1 = forge.asn1.Asn1;

// The typings only list the boolean form of the second argument; the options object is real.
const fromDer = forge.asn1.fromDer as unknown as (
  bytes: string,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Asn1;

function malformed(reason: string, cause?: unknown): never {
  throw new ProtocolError('PROFILE.MALFORMED', `CMS signed data rejected: ${reason}`, { cause });
}

function children(node: Asn1 | undefined, what: string): Asn1[] {
  if (node === undefined || !Array.isArray(node.value))
    malformed(`${what} is not a constructed value`);

  return node.value;
}

function isUniversal(node: Asn1 | undefined, type: forge.asn1.Type): boolean {
  return node !== undefined && node.tagClass === forge.asn1.Class.UNIVERSAL && node.type === type;
}

function isContext0(node: Asn1 | undefined): boolean {
  return (
    node !== undefined && node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && node.type === 0
  );
}

// An OCTET STRING may arrive BER-constructed (chunks); the content is their concatenation.
function octets(node: Asn1): string {
  if (!isUniversal(node, forge.asn1.Type.OCTETSTRING)) malformed('eContent is not an OCTET STRING');
  if (typeof node.value === 'string') return node.value;

  return node.value.map(octets).join('');
}

/**
 * Returns the encapsulated content of a CMS/PKCS#7 SignedData (`ContentInfo` DER, e.g. a signed
 * `.mobileconfig` or a MachineInfo body).
 *
 * The signature is NOT verified here: callers that need to trust the signer must verify it
 * (the identity library does that). Throws `PROFILE.MALFORMED` for anything that is not a
 * SignedData with attached content.
 */
export function unwrapCmsSignedData(der: Uint8Array): Uint8Array {
  let root: Asn1;

  try {
    root = fromDer(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1'), {
      strict: true,
      parseAllBytes: true,
      decodeBitStrings: false,
    });
  } catch (cause) {
    return malformed('the DER is not valid ASN.1', cause);
  }

  const [contentType, explicitContent] = children(root, 'ContentInfo');

  if (
    !isUniversal(contentType, forge.asn1.Type.OID) ||
    forge.asn1.derToOid(contentType?.value as string) !== OID_SIGNED_DATA
  ) {
    malformed('the content type is not SignedData');
  }
  if (!isContext0(explicitContent)) malformed('ContentInfo has no [0] content');

  const [signedData] = children(explicitContent, 'ContentInfo content');
  const fields = children(signedData, 'SignedData');
  const encapsulated = fields.find((node) => isUniversal(node, forge.asn1.Type.SEQUENCE));
  const [, explicitEContent] = children(encapsulated, 'EncapsulatedContentInfo');

  if (!isContext0(explicitEContent)) {
    malformed('the signature is detached (no encapsulated content)');
  }

  const [eContent] = children(explicitEContent, 'eContent');

  if (eContent === undefined) malformed('eContent is empty');

  return new Uint8Array(Buffer.from(octets(eContent), 'latin1'));
}
