// Checks one SignerInfo of an attached SignedData: which certificate signed it, and whether the
// signature and messageDigest hold for the encapsulated content.
import { createHash, KeyObject, timingSafeEqual } from 'node:crypto';

import { CertificateSummary, summarizeCertificate } from './certificate.js';
import { DIGEST_ALGORITHMS, SIGNATURE_ALGORITHMS, signatureHolds } from './cms-algorithms.js';
import { octetStringOf, oidOf } from './der.js';
import { Oid } from './oids.js';
import type { SignedData, SignerInfo } from './signed-data.js';

/** The certificate inside the SignedData that `signer` names; undefined when none does. */
export function signerCertificateOf(
  signedData: SignedData,
  signer: SignerInfo,
): CertificateSummary | undefined {
  const id = signer.signerIdentifier;
  for (const der of signedData.certificates) {
    let summary: CertificateSummary;
    try {
      summary = summarizeCertificate(der);
    } catch {
      continue;
    }
    const matches =
      id.kind === 'issuerAndSerial'
        ? summary.issuerRaw.equals(id.issuer) && summary.serialRaw.equals(id.serial)
        : summary.subjectKeyIdentifier?.equals(id.keyIdentifier) === true;
    if (matches) {
      return summary;
    }
  }

  return undefined;
}

export type SignerVerdict = 'valid' | 'unsupported-algorithm' | 'invalid';

/**
 * Whether `signer` signed `content` with `publicKey`: signed attributes are required (SCEP
 * carries its fields in them), with a contentType of id-data when present and a messageDigest
 * of the content.
 */
export function checkSigner(
  signer: SignerInfo,
  content: Buffer,
  publicKey: KeyObject,
): SignerVerdict {
  const hash = DIGEST_ALGORITHMS.get(signer.digestAlgorithm);
  const algorithm = SIGNATURE_ALGORITHMS.get(signer.signatureAlgorithm);
  const attributes = signer.signedAttributes;
  if (hash === undefined || algorithm === undefined) {
    return 'unsupported-algorithm';
  }
  if (attributes === undefined) {
    return 'invalid';
  }

  const digests = attributes.values.get(Oid.messageDigest);
  const contentTypes = attributes.values.get(Oid.contentType);
  let expected: Buffer;
  try {
    if (digests?.length !== 1) {
      return 'invalid';
    }
    if (
      contentTypes !== undefined &&
      (contentTypes.length !== 1 ||
        oidOf(attributes.source, contentTypes[0], 'contentType') !== Oid.data)
    ) {
      return 'invalid';
    }
    expected = octetStringOf(attributes.source, digests[0], 'messageDigest');
  } catch {
    return 'invalid';
  }

  const actual = createHash(hash).update(content).digest();
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    return 'invalid';
  }

  return signatureHolds(
    algorithm.hash ?? hash,
    algorithm.keyType,
    attributes.encoded,
    publicKey,
    signer.signature,
  )
    ? 'valid'
    : 'invalid';
}
