// PKCS#10 certification requests (RFC 2986), as a SCEP client sends them inside a PKCSReq.
import { createPublicKey, KeyObject, sign } from 'node:crypto';

import { commonNameOf, signatureAlgorithmFor } from './certificate.js';
import { SIGNATURE_ALGORITHMS, signatureHolds } from './cms-algorithms.js';
import {
  Asn1Error,
  Asn1Node,
  bitString,
  bitStringOctetsOf,
  expectConstructed,
  expectUniversal,
  isContext,
  oidOf,
  parseAsn1,
  rawOf,
  sequence,
  setOf,
  smallInteger,
  stringOf,
  Tag,
  tlv,
  utf8String,
} from './der.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki } from './public-key.js';
import { attribute } from './signed-data.js';

export interface CertificationRequest {
  readonly der: Buffer;
  /** The subject Name exactly as requested. */
  readonly subject: Buffer;
  /** The subject's first common name; empty when it has none. */
  readonly commonName: string;
  readonly subjectPublicKeyInfo: Buffer;
  readonly publicKey: KeyObject;
  /** The challengePassword attribute (RFC 2985 §5.4.1), when the request has one. */
  readonly challengePassword: string | undefined;
}

export type CertificationRequestProblem = 'malformed' | 'unsupported-algorithm' | 'bad-signature';

/** Why a request cannot be certified; `problem` tells a SCEP server which failInfo to answer. */
export class CertificationRequestError extends Error {
  constructor(
    readonly problem: CertificationRequestProblem,
    message: string,
  ) {
    super(message);
    this.name = 'CertificationRequestError';
  }
}

/** Reads a DER PKCS#10 request and checks its self-signature (the requester holds the key). */
export function readCertificationRequest(der: Buffer): CertificationRequest {
  let root: Asn1Node;
  try {
    root = expectConstructed(parseAsn1(der), Tag.Sequence, 'CertificationRequest');
  } catch (error) {
    throw malformed(error);
  }

  const [info, algorithm, signatureBits] = root.children;
  let fields: readonly Asn1Node[];
  let signatureOid: string;
  let signature: Buffer;
  try {
    fields = expectConstructed(info, Tag.Sequence, 'certificationRequestInfo').children;
    expectUniversal(fields[0], Tag.Integer, 'request version');
    expectConstructed(fields[1], Tag.Sequence, 'request subject');
    expectConstructed(fields[2], Tag.Sequence, 'request subjectPKInfo');
    signatureOid = oidOf(
      der,
      expectConstructed(algorithm, Tag.Sequence, 'algorithm').children[0],
      'algorithm',
    );
    signature = bitStringOctetsOf(der, signatureBits, 'request signature');
  } catch (error) {
    throw malformed(error);
  }

  const subjectPublicKeyInfo = rawOf(der, fields[2]);
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromSpki(subjectPublicKeyInfo);
  } catch {
    throw new CertificationRequestError(
      'unsupported-algorithm',
      'the requested public key is of a kind this CA cannot read',
    );
  }

  const scheme = SIGNATURE_ALGORITHMS.get(signatureOid);
  if (scheme?.hash === undefined) {
    throw new CertificationRequestError(
      'unsupported-algorithm',
      `the request is signed with ${signatureOid}; expected SHA-1/SHA-2 with RSA or ECDSA`,
    );
  }
  if (!signatureHolds(scheme.hash, scheme.keyType, rawOf(der, info), publicKey, signature)) {
    throw new CertificationRequestError(
      'bad-signature',
      'the request is not signed by the key it asks to certify',
    );
  }

  return {
    der,
    subject: rawOf(der, fields[1]),
    commonName: safely(() => commonNameOf(der, fields[1])) ?? '',
    subjectPublicKeyInfo,
    publicKey,
    challengePassword: challengePasswordOf(der, fields[3]),
  };
}

export interface CertificationRequestOptions {
  /** DER Name (see `encodeName`). */
  readonly subject: Buffer;
  /** The private key whose public half is to be certified; it signs the request. */
  readonly key: KeyObject;
  readonly challengePassword?: string;
}

/** A DER PKCS#10 request signed with SHA-256. */
export function buildCertificationRequest(options: CertificationRequestOptions): Buffer {
  const spki = createPublicKey(options.key).export({ type: 'spki', format: 'der' });
  const attributes =
    options.challengePassword === undefined
      ? []
      : [attribute(Oid.challengePassword, directoryString(options.challengePassword))];
  // attributes is [0] IMPLICIT SET OF Attribute: the DER of a SET OF under another tag.
  const attributeSet = setOf(...attributes);
  attributeSet[0] = 0xa0;
  const info = sequence(smallInteger(0), options.subject, spki, attributeSet);
  const signature = sign('sha256', info, options.key);

  return sequence(info, signatureAlgorithmFor(options.key), bitString(signature));
}

function challengePasswordOf(der: Buffer, attributes: Asn1Node | undefined): string | undefined {
  if (attributes === undefined) {
    return undefined;
  }
  if (!isContext(attributes, 0) || !attributes.constructed) {
    throw malformed(new Asn1Error('request attributes are not [0]'));
  }

  for (const node of attributes.children) {
    try {
      const [type, values] = expectConstructed(node, Tag.Sequence, 'request attribute').children;
      if (oidOf(der, type, 'request attribute type') !== Oid.challengePassword) {
        continue;
      }
      const members = expectConstructed(values, Tag.Set, 'challengePassword values').children;
      if (members.length !== 1 || members[0].constructed) {
        throw new Asn1Error('challengePassword does not hold exactly one string');
      }

      return stringOf(der, members[0]);
    } catch (error) {
      throw malformed(error);
    }
  }

  return undefined;
}

// PrintableString where the value allows it, as most SCEP servers expect; UTF8String otherwise.
function directoryString(value: string): Buffer {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)
    ? tlv(0x13, Buffer.from(value, 'latin1'))
    : utf8String(value);
}

function malformed(error: unknown): CertificationRequestError {
  const reason = error instanceof Error ? error.message : String(error);

  return new CertificationRequestError('malformed', `the PKCS#10 request is malformed: ${reason}`);
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
