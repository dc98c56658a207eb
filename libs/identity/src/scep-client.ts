import { createHash, createPublicKey, KeyObject, randomBytes, X509Certificate } from 'node:crypto';

import {
  basicConstraintsExtension,
  buildCertificate,
  CertificateSummary,
  keyUsageExtension,
  KeyUsageBit,
  summarizeCertificate,
} from './certificate.js';
import { buildCertificationRequest } from './certification-request.js';
import { ContentCipherName } from './cms-algorithms.js';
import { checkSigner, signerCertificateOf } from './cms-signer.js';
import { buildEnvelopedData, openEnvelopedData } from './enveloped-data.js';
import { IdentityError } from './identity.errors.js';
import { Oid } from './oids.js';
import {
  FailInfo,
  messageTypeAttribute,
  NONCE_LENGTH,
  nonceAttribute,
  readScepAttributes,
  SCEP_MESSAGE_TYPES,
  transactionIdAttribute,
} from './scep-message.js';
import { buildSignedData, parseSignedData, SignedData } from './signed-data.js';

export interface PkcsReqOptions {
  /** The device's own RSA private key; its public half is to be certified. */
  readonly key: KeyObject;
  /** The CA certificate from GetCACert (DER): the request is encrypted to it. */
  readonly caCertificate: Buffer;
  /** The DER Name to certify (see `encodeName`). */
  readonly subject: Buffer;
  /** The profile's `Challenge`, sent as the request's challengePassword. */
  readonly challenge?: string;
  /** Default `aes-128-cbc`, which GetCACaps "AES" promises. */
  readonly cipher?: ContentCipherName;
  /** Default: hex SHA-256 of the public key, as RFC 8894 §3.2.1.1 suggests. */
  readonly transactionId?: string;
}

/** A PKCSReq as sent, with what it takes to read the CertRep to it. */
export interface PkcsReqMessage {
  readonly message: Buffer;
  readonly transactionId: string;
  readonly senderNonce: Buffer;
  /** The self-signed certificate that signs the request; the CertRep is encrypted to it. */
  readonly signerCertificate: Buffer;
}

export type CertRep =
  | { readonly status: 'SUCCESS'; readonly certificate: Buffer }
  | { readonly status: 'FAILURE'; readonly failInfo: FailInfo | undefined }
  | { readonly status: 'PENDING' };

// The self-signed certificate only has to outlive the transaction.
const SIGNER_VALIDITY_MS = 24 * 60 * 60 * 1000;
const BACKDATE_MS = 5 * 60 * 1000;

/**
 * The device side of SCEP enrollment: a PKCSReq as Apple devices send it (RFC 8894 §3.3.1),
 * SignedData by a self-signed certificate for `key`, around an EnvelopedData to the CA holding a
 * PKCS#10 request with the challenge. Throws `IDENTITY.MATERIAL_INVALID` for a non-RSA key.
 */
export function buildPkcsReq(options: PkcsReqOptions): PkcsReqMessage {
  const { key, subject } = options;
  if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') {
    throw new IdentityError(
      'IDENTITY.MATERIAL_INVALID',
      'A SCEP request needs an RSA private key: the CertRep comes back under RSA key transport.',
    );
  }

  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const now = Date.now();
  const signerCertificate = buildCertificate({
    issuerName: subject,
    subjectName: subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + SIGNER_VALIDITY_MS),
    subjectPublicKeyInfo: spki,
    extensions: [
      basicConstraintsExtension(false),
      keyUsageExtension([KeyUsageBit.digitalSignature, KeyUsageBit.keyEncipherment]),
    ],
    signingKey: key,
  });
  const request = buildCertificationRequest({
    subject,
    key,
    ...(options.challenge === undefined ? {} : { challengePassword: options.challenge }),
  });
  const envelope = buildEnvelopedData(
    request,
    options.caCertificate,
    options.cipher ?? 'aes-128-cbc',
  );
  const transactionId = options.transactionId ?? createHash('sha256').update(spki).digest('hex');
  const senderNonce = randomBytes(NONCE_LENGTH);
  const message = buildSignedData({
    content: envelope,
    certificates: [signerCertificate],
    signer: {
      key,
      certificate: summarizeCertificate(signerCertificate),
      hash: 'sha256',
      attributes: [
        messageTypeAttribute(SCEP_MESSAGE_TYPES.PKCSReq),
        transactionIdAttribute(transactionId),
        nonceAttribute(Oid.scepSenderNonce, senderNonce),
      ],
    },
  });

  return { message, transactionId, senderNonce, signerCertificate };
}

/**
 * Reads the CertRep to `pkcsReq`: signed by the CA, for this transaction and nonce, and on
 * SUCCESS the certificate for `key`. Throws `IDENTITY.SCEP_MESSAGE_INVALID` otherwise.
 */
export function readCertRep(
  reply: Buffer,
  pkcsReq: PkcsReqMessage,
  options: { key: KeyObject; caCertificate: Buffer },
): CertRep {
  let signedData: SignedData;
  try {
    signedData = parseSignedData(reply);
  } catch (error) {
    throw invalidReply(`it is not a CMS SignedData (${reasonOf(error)})`);
  }
  if (signedData.signers.length !== 1) {
    throw invalidReply(`it has ${signedData.signers.length} signers`);
  }

  const signer = signedData.signers[0];
  const ca = summarizeCertificate(options.caCertificate);
  const signerCertificate = signerCertificateOf(signedData, signer) ?? ca;
  if (signerCertificate.fingerprint !== ca.fingerprint) {
    throw invalidReply('it is not signed by the CA certificate');
  }
  const caKey = new X509Certificate(options.caCertificate).publicKey;
  if (checkSigner(signer, signedData.content ?? Buffer.alloc(0), caKey) !== 'valid') {
    throw invalidReply('its signature does not hold');
  }

  const scep = readScepAttributes(signer);
  if (scep.messageType !== SCEP_MESSAGE_TYPES.CertRep) {
    throw invalidReply(`its messageType is ${scep.messageType ?? 'missing'}, not CertRep`);
  }
  if (scep.transactionId !== pkcsReq.transactionId) {
    throw invalidReply('it answers another transaction');
  }
  if (!scep.recipientNonce?.equals(pkcsReq.senderNonce)) {
    throw invalidReply('its recipientNonce is not our senderNonce');
  }

  switch (scep.pkiStatus) {
    case 'SUCCESS':
      return {
        status: 'SUCCESS',
        certificate: issuedCertificate(signedData, pkcsReq, options.key),
      };
    case 'FAILURE':
      return { status: 'FAILURE', failInfo: scep.failInfo };
    case 'PENDING':
      return { status: 'PENDING' };
    case undefined:
      throw invalidReply('it has no pkiStatus');
  }
}

/** The CA certificate(s) of a GetCACert answer: one DER certificate, or a certs-only PKCS#7. */
export function readCaCertificates(body: Buffer): Buffer[] {
  try {
    summarizeCertificate(body);

    return [body];
  } catch {
    // Not a single certificate; a CA with an RA answers with a degenerate SignedData.
  }

  try {
    return [...parseSignedData(body).certificates];
  } catch (error) {
    throw invalidReply(`the GetCACert answer holds no certificate (${reasonOf(error)})`);
  }
}

function issuedCertificate(
  signedData: SignedData,
  pkcsReq: PkcsReqMessage,
  key: KeyObject,
): Buffer {
  if (signedData.content === undefined || signedData.content.length === 0) {
    throw invalidReply('it says SUCCESS without an envelope');
  }

  let certificates: readonly Buffer[];
  try {
    const signer: CertificateSummary = summarizeCertificate(pkcsReq.signerCertificate);
    const opened = openEnvelopedData(signedData.content, { certificate: signer, key });
    certificates = parseSignedData(opened.content).certificates;
  } catch (error) {
    throw invalidReply(`its envelope cannot be read (${reasonOf(error)})`);
  }

  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const certificate = certificates.find((der) =>
    new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }).equals(spki),
  );
  if (certificate === undefined) {
    throw invalidReply('it holds no certificate for our key');
  }

  return certificate;
}

function invalidReply(reason: string): IdentityError {
  return new IdentityError(
    'IDENTITY.SCEP_MESSAGE_INVALID',
    `The SCEP reply is unusable: ${reason}.`,
  );
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
