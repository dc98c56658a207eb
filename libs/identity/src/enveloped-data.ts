// CMS EnvelopedData (RFC 5652 §6) with RSA key transport, the way SCEP encrypts a request to the
// CA and a certificate back to the requester.
import {
  constants,
  createCipheriv,
  createDecipheriv,
  KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';

import { CertificateSummary, keyAndSignatureOf, summarizeCertificate } from './certificate.js';
import {
  CONTENT_CIPHERS,
  ContentCipher,
  contentCipherNamed,
  ContentCipherName,
} from './cms-algorithms.js';
import {
  Asn1Node,
  expectConstructed,
  expectUniversal,
  explicit,
  isContext,
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
  tlv,
  toDefiniteLength,
} from './der.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki } from './public-key.js';

export type EnvelopeProblem =
  'malformed' | 'wrong-recipient' | 'unsupported-algorithm' | 'undecryptable';

/** Why an envelope cannot be opened; `problem` decides a SCEP server's failInfo. */
export class EnvelopeError extends Error {
  constructor(
    readonly problem: EnvelopeProblem,
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export interface OpenedEnvelope {
  readonly content: Buffer;
  readonly cipher: ContentCipherName;
}

/** Encrypts `content` to the RSA key of `recipientCertificate` (DER); a DER ContentInfo. */
export function buildEnvelopedData(
  content: Buffer,
  recipientCertificate: Buffer,
  cipherName: ContentCipherName,
): Buffer {
  const recipient = summarizeCertificate(recipientCertificate);
  const publicKey = publicKeyFromSpki(keyAndSignatureOf(recipientCertificate).subjectPublicKeyInfo);
  const cipher = contentCipherNamed(cipherName);
  const contentKey = randomBytes(cipher.keyLength);
  const iv = randomBytes(cipher.ivLength);
  const encryptor = createCipheriv(cipher.name, contentKey, iv);
  const encrypted = Buffer.concat([encryptor.update(content), encryptor.final()]);
  const encryptedKey = publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
    contentKey,
  );

  const recipientInfo = sequence(
    smallInteger(0),
    sequence(recipient.issuerRaw, recipient.serialRaw),
    sequence(oid(Oid.rsaEncryption), NULL),
    octetString(encryptedKey),
  );
  const encryptedContentInfo = sequence(
    oid(Oid.data),
    sequence(oid(cipher.oid), octetString(iv)),
    tlv(0x80, encrypted),
  );
  const envelopedData = sequence(smallInteger(0), setOf(recipientInfo), encryptedContentInfo);

  return sequence(oid(Oid.envelopedData), explicit(0, envelopedData));
}

/**
 * Opens an envelope addressed (by issuer and serial number, or subject key identifier) to
 * `recipient`. Throws `EnvelopeError`.
 */
export function openEnvelopedData(
  bytes: Buffer,
  recipient: { certificate: CertificateSummary; key: KeyObject },
): OpenedEnvelope {
  const parts = readEnvelope(bytes, recipient.certificate);
  if (recipient.key.asymmetricKeyType !== 'rsa') {
    throw new EnvelopeError('unsupported-algorithm', 'only RSA key transport is supported');
  }

  const contentKey = unwrapContentKey(recipient.key, parts.encryptedKey, parts.cipher.keyLength);
  try {
    const decryptor = createDecipheriv(parts.cipher.name, contentKey, parts.iv);
    const content = Buffer.concat([decryptor.update(parts.encrypted), decryptor.final()]);

    return { content, cipher: parts.cipher.name };
  } catch {
    throw new EnvelopeError('undecryptable', 'the envelope cannot be decrypted');
  }
}

interface EnvelopeParts {
  encryptedKey: Buffer;
  cipher: ContentCipher;
  iv: Buffer;
  encrypted: Buffer;
}

function readEnvelope(bytes: Buffer, recipient: CertificateSummary): EnvelopeParts {
  let infos: readonly Asn1Node[];
  let cipherOid: string;
  let iv: Buffer;
  let encrypted: Buffer;
  try {
    const contentInfo = expectConstructed(parseAsn1(bytes), Tag.Sequence, 'ContentInfo');
    const [typeNode, wrapper] = contentInfo.children;
    if (oidOf(bytes, typeNode, 'ContentInfo contentType') !== Oid.envelopedData) {
      throw new EnvelopeError('malformed', 'the message does not hold EnvelopedData');
    }
    if (!isContext(wrapper, 0) || !wrapper.constructed) {
      throw new EnvelopeError('malformed', 'the EnvelopedData is missing');
    }
    const fields = expectConstructed(wrapper.children[0], Tag.Sequence, 'EnvelopedData').children;
    expectUniversal(fields[0], Tag.Integer, 'EnvelopedData version');
    // originatorInfo [0] is for key agreement, which this library does not do.
    const index = isContext(fields[1], 0) ? 2 : 1;
    infos = expectConstructed(fields[index], Tag.Set, 'recipientInfos').children;
    const encryptedContentInfo = expectConstructed(
      fields[index + 1],
      Tag.Sequence,
      'encryptedContentInfo',
    ).children;
    const algorithm = expectConstructed(
      encryptedContentInfo[1],
      Tag.Sequence,
      'contentEncryptionAlgorithm',
    ).children;
    cipherOid = oidOf(bytes, algorithm[0], 'contentEncryptionAlgorithm');
    iv = octetStringOf(bytes, algorithm[1] as Asn1Node, 'content encryption IV');
    encrypted = encryptedContentOf(bytes, encryptedContentInfo[2]);
  } catch (error) {
    throw asEnvelopeError(error);
  }

  const cipher = CONTENT_CIPHERS.find((candidate) => candidate.oid === cipherOid);
  if (cipher === undefined) {
    throw new EnvelopeError(
      'unsupported-algorithm',
      `the content is encrypted with ${cipherOid}; expected AES-CBC or DES-EDE3-CBC`,
    );
  }
  if (iv.length !== cipher.ivLength) {
    throw new EnvelopeError('malformed', `the ${cipher.name} IV is ${iv.length} bytes`);
  }

  return { encryptedKey: encryptedKeyFor(bytes, infos, recipient), cipher, iv, encrypted };
}

function encryptedKeyFor(
  bytes: Buffer,
  infos: readonly Asn1Node[],
  recipient: CertificateSummary,
): Buffer {
  let keyTransports = 0;
  for (const info of infos) {
    // Key transport is an untagged SEQUENCE; kari, kekri, pwri and ori are tagged [1]-[4].
    if (!info.constructed || info.tagClass !== 0 || info.tag !== Tag.Sequence) {
      continue;
    }
    keyTransports++;
    try {
      const [, rid, algorithm, encryptedKey] = info.children;
      if (!addressedTo(bytes, rid, recipient)) {
        continue;
      }
      const algorithmOid = oidOf(
        bytes,
        expectConstructed(algorithm, Tag.Sequence, 'kt algorithm').children[0],
        'kt algorithm',
      );
      if (algorithmOid !== Oid.rsaEncryption) {
        throw new EnvelopeError(
          'unsupported-algorithm',
          `the content key is wrapped with ${algorithmOid}; expected rsaEncryption`,
        );
      }

      return octetStringOf(bytes, encryptedKey as Asn1Node, 'encryptedKey');
    } catch (error) {
      throw asEnvelopeError(error);
    }
  }

  throw new EnvelopeError(
    'wrong-recipient',
    keyTransports === 0
      ? 'the envelope has no RSA key transport recipient'
      : 'the envelope is not addressed to this certificate',
  );
}

function addressedTo(
  bytes: Buffer,
  rid: Asn1Node | undefined,
  recipient: CertificateSummary,
): boolean {
  if (isContext(rid, 0) && !rid.constructed) {
    const keyIdentifier = bytes.subarray(rid.contentStart, rid.contentEnd);

    return recipient.subjectKeyIdentifier?.equals(keyIdentifier) ?? false;
  }

  const [issuer, serial] = expectConstructed(rid, Tag.Sequence, 'rid').children;

  return (
    toDefiniteLength(bytes, expectConstructed(issuer, Tag.Sequence, 'rid issuer')).equals(
      recipient.issuerRaw,
    ) &&
    rawOf(bytes, expectUniversal(serial, Tag.Integer, 'rid serial')).equals(recipient.serialRaw)
  );
}

// encryptedContent [0] IMPLICIT OCTET STRING: primitive, or (BER, as streaming encoders write
// it) constructed from OCTET STRING segments.
function encryptedContentOf(bytes: Buffer, node: Asn1Node | undefined): Buffer {
  if (!isContext(node, 0)) {
    throw new EnvelopeError('malformed', 'the envelope has no encrypted content');
  }
  if (!node.constructed) {
    return bytes.subarray(node.contentStart, node.contentEnd);
  }

  return Buffer.concat(
    node.children.map((child) => octetStringOf(bytes, child, 'encryptedContent')),
  );
}

/**
 * RSAES-PKCS1-v1_5 decryption of the content key with implicit rejection: a block that does not
 * unpad to a key of the expected length yields a random key instead of an error, so the answer
 * (a content that will not decrypt) is the same either way and gives no padding oracle
 * (RFC 3218 §2.3.2). Node refuses PKCS#1 v1.5 private decryption for the same reason, hence the
 * raw RSA operation and the unpadding here.
 */
function unwrapContentKey(key: KeyObject, encryptedKey: Buffer, keyLength: number): Buffer {
  const substitute = randomBytes(keyLength);
  let block: Buffer;
  try {
    block = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, encryptedKey);
  } catch {
    return substitute;
  }

  // 0x00 0x02, at least eight non-zero padding octets, 0x00, then the key. Every octet is read
  // whatever it holds, so the time taken does not depend on where the padding ends.
  let valid = (block[0] === 0 ? 1 : 0) & (block[1] === 2 ? 1 : 0);
  let separator = 0;
  let seen = 0;
  for (let i = 2; i < block.length; i++) {
    const zero = block[i] === 0 ? 1 : 0;
    const first = zero & (seen ^ 1);
    separator = first === 1 ? i : separator;
    seen |= zero;
  }
  valid &= seen & (separator >= 10 ? 1 : 0) & (block.length - separator - 1 === keyLength ? 1 : 0);

  return valid === 1 ? Buffer.from(block.subarray(block.length - keyLength)) : substitute;
}

function asEnvelopeError(error: unknown): EnvelopeError {
  if (error instanceof EnvelopeError) {
    return error;
  }
  const reason = error instanceof Error ? error.message : String(error);

  return new EnvelopeError('malformed', `the envelope is malformed: ${reason}`);
}
