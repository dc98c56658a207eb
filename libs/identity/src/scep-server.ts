import { KeyObject, randomBytes } from 'node:crypto';

import { CertificateAuthority, privateKeyOf } from './certificate-authority.js';
import { CertificateSummary, keyAndSignatureOf, summarizeCertificate } from './certificate.js';
import {
  CertificationRequest,
  CertificationRequestError,
  readCertificationRequest,
} from './certification-request.js';
import { ContentCipherName, DIGEST_ALGORITHMS, HashName } from './cms-algorithms.js';
import { checkSigner, signerCertificateOf } from './cms-signer.js';
import {
  buildEnvelopedData,
  EnvelopeError,
  openEnvelopedData,
  OpenedEnvelope,
} from './enveloped-data.js';
import { IdentityError } from './identity.errors.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki } from './public-key.js';
import {
  failInfoAttribute,
  FailInfo,
  messageTypeAttribute,
  NONCE_LENGTH,
  nonceAttribute,
  pkiStatusAttribute,
  PkiStatus,
  readScepAttributes,
  SCEP_MESSAGE_TYPES,
  transactionIdAttribute,
} from './scep-message.js';
import { buildSignedData, parseSignedData, SignedData } from './signed-data.js';

/** A device's request for a certificate, read, decrypted and checked. */
export interface PkcsReq {
  readonly transactionId: string;
  readonly senderNonce: Buffer;
  /** The certificate the device signed with (self-signed, DER); the CertRep is encrypted to it. */
  readonly signerCertificate: Buffer;
  readonly request: CertificationRequest;
  /** How the device encrypted and digested its request; the CertRep does the same. */
  readonly cipher: ContentCipherName;
  readonly hash: HashName;
}

/** The transaction a CertRep answers. */
export interface CertRepAddress {
  readonly transactionId: string;
  /** The request's senderNonce, returned as the reply's recipientNonce. */
  readonly senderNonce: Buffer;
  readonly hash: HashName;
}

/** What a PKIOperation message asks for, or why it gets a FAILURE CertRep. */
export type PkiOperation =
  | { readonly kind: 'pkcs-req'; readonly pkcsReq: PkcsReq }
  | {
      readonly kind: 'refused';
      readonly failInfo: FailInfo;
      /** For logs and people; holds nothing from inside the envelope. */
      readonly reason: string;
      readonly address: CertRepAddress;
    };

/**
 * What GetCACaps answers (RFC 8894 §3.5.2): POST for PKIOperation, SHA-256 and AES, and the
 * RFC's baseline. No Renewal: a device that needs a new identity enrolls again.
 */
export const SCEP_CA_CAPABILITIES: readonly string[] = [
  'POSTPKIOperation',
  'SHA-256',
  'AES',
  'SCEPStandard',
];

/**
 * The CA side of SCEP (RFC 8894) for PKCSReq, as Apple devices speak it: reads a PKIOperation
 * (SignedData by the device's self-signed certificate around an EnvelopedData to the CA holding a
 * PKCS#10 request) and writes the CertRep. Deciding whether to issue (the challenge) is the
 * caller's.
 */
export class ScepServer {
  /** For GetCACert: the CA certificate, DER. */
  readonly caCertificate: Buffer;

  private readonly summary: CertificateSummary;
  private readonly key: KeyObject;

  /** Throws `IDENTITY.MATERIAL_INVALID` for a CA whose key cannot receive RSA key transport. */
  constructor(authority: CertificateAuthority) {
    this.key = privateKeyOf(authority);
    if (this.key.asymmetricKeyType !== 'rsa') {
      throw new IdentityError(
        'IDENTITY.MATERIAL_INVALID',
        'SCEP clients encrypt to the CA with RSA key transport; this CA key is not RSA.',
      );
    }
    this.caCertificate = authority.certificateDer;
    this.summary = summarizeCertificate(authority.certificateDer);
  }

  /**
   * Reads a PKIOperation message. Throws `IDENTITY.SCEP_MESSAGE_INVALID` when it cannot even be
   * answered with a CertRep (not a SignedData, or no transactionID and senderNonce to answer to).
   */
  readPkiOperation(message: Buffer): PkiOperation {
    let signedData: SignedData;
    try {
      signedData = parseSignedData(message);
    } catch (error) {
      throw invalidMessage(`The PKIOperation message is not a CMS SignedData: ${reasonOf(error)}.`);
    }
    if (signedData.signers.length !== 1) {
      throw invalidMessage(
        `The PKIOperation message has ${signedData.signers.length} signers; SCEP has one.`,
      );
    }

    const signer = signedData.signers[0];
    const scep = readScepAttributes(signer);
    if (scep.transactionId === undefined || scep.senderNonce === undefined) {
      throw invalidMessage('The PKIOperation message lacks a transactionID or a senderNonce.');
    }

    const address: CertRepAddress = {
      transactionId: scep.transactionId,
      senderNonce: scep.senderNonce,
      // A digest we do not know is refused below; the refusal itself is signed with SHA-256.
      hash: DIGEST_ALGORITHMS.get(signer.digestAlgorithm) ?? 'sha256',
    };
    const refuse = (failInfo: FailInfo, reason: string): PkiOperation => ({
      kind: 'refused',
      failInfo,
      reason,
      address,
    });
    if (scep.messageType !== SCEP_MESSAGE_TYPES.PKCSReq) {
      return refuse(
        'badRequest',
        `messageType ${scep.messageType ?? 'none'} is not supported; this CA answers PKCSReq (19)`,
      );
    }

    const certificate = signerCertificateOf(signedData, signer);
    if (certificate === undefined) {
      return refuse('badMessageCheck', 'the message does not carry its signer certificate');
    }
    const content = signedData.content ?? Buffer.alloc(0);
    let publicKey: KeyObject;
    try {
      publicKey = publicKeyFromSpki(keyAndSignatureOf(certificate.der).subjectPublicKeyInfo);
    } catch {
      return refuse('badMessageCheck', 'the signer certificate holds no key this CA can read');
    }
    const verdict = checkSigner(signer, content, publicKey);
    if (verdict !== 'valid') {
      return verdict === 'unsupported-algorithm'
        ? refuse('badAlg', 'the message is signed with an unsupported algorithm')
        : refuse('badMessageCheck', 'the message signature does not hold');
    }
    // The reply travels under RSA key transport to this certificate.
    if (publicKey.asymmetricKeyType !== 'rsa') {
      return refuse('badAlg', 'the signer certificate has no RSA key to encrypt the reply to');
    }

    return this.openRequest(content, certificate, address, refuse);
  }

  private openRequest(
    envelope: Buffer,
    signerCertificate: CertificateSummary,
    address: CertRepAddress,
    refuse: (failInfo: FailInfo, reason: string) => PkiOperation,
  ): PkiOperation {
    let opened: OpenedEnvelope;
    try {
      opened = openEnvelopedData(envelope, { certificate: this.summary, key: this.key });
    } catch (error) {
      if (!(error instanceof EnvelopeError)) {
        throw error;
      }

      return refuse(
        error.problem === 'unsupported-algorithm' ? 'badAlg' : 'badMessageCheck',
        error.message,
      );
    }

    let request: CertificationRequest;
    try {
      request = readCertificationRequest(opened.content);
    } catch (error) {
      if (!(error instanceof CertificationRequestError)) {
        throw error;
      }
      const failInfo: Record<CertificationRequestError['problem'], FailInfo> = {
        malformed: 'badRequest',
        'unsupported-algorithm': 'badAlg',
        'bad-signature': 'badMessageCheck',
      };

      return refuse(failInfo[error.problem], error.message);
    }

    return {
      kind: 'pkcs-req',
      pkcsReq: {
        transactionId: address.transactionId,
        senderNonce: address.senderNonce,
        signerCertificate: signerCertificate.der,
        request,
        cipher: opened.cipher,
        hash: address.hash,
      },
    };
  }

  /** The SUCCESS CertRep: the issued certificate, encrypted to the device's signer certificate. */
  certRepSuccess(pkcsReq: PkcsReq, issuedCertificate: Buffer): Buffer {
    const certsOnly = buildSignedData({ certificates: [issuedCertificate] });
    const envelope = buildEnvelopedData(certsOnly, pkcsReq.signerCertificate, pkcsReq.cipher);

    return this.certRep(pkcsReq, 'SUCCESS', envelope);
  }

  /** A FAILURE CertRep with the reason's failInfo; it carries no envelope. */
  certRepFailure(address: CertRepAddress, failInfo: FailInfo): Buffer {
    return this.certRep(address, 'FAILURE', Buffer.alloc(0), failInfo);
  }

  private certRep(
    address: CertRepAddress,
    status: PkiStatus,
    content: Buffer,
    failInfo?: FailInfo,
  ): Buffer {
    const attributes = [
      messageTypeAttribute(SCEP_MESSAGE_TYPES.CertRep),
      pkiStatusAttribute(status),
      transactionIdAttribute(address.transactionId),
      nonceAttribute(Oid.scepRecipientNonce, address.senderNonce),
      nonceAttribute(Oid.scepSenderNonce, randomBytes(NONCE_LENGTH)),
      ...(failInfo === undefined ? [] : [failInfoAttribute(failInfo)]),
    ];

    return buildSignedData({
      content,
      certificates: [this.caCertificate],
      signer: { key: this.key, certificate: this.summary, hash: address.hash, attributes },
    });
  }
}

function invalidMessage(message: string): IdentityError {
  return new IdentityError('IDENTITY.SCEP_MESSAGE_INVALID', message);
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
