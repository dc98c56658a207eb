import { createHash, createPrivateKey, KeyObject, sign, X509Certificate } from 'node:crypto';

import { pemBlocks, summarizeCertificate } from './certificate.js';
import { explicit, NULL, octetString, oid, sequence, setOf, smallInteger, time } from './der.js';
import { IdentityError } from './identity.errors.js';
import { Oid } from './oids.js';
import { IdentityPem } from './pkcs12.js';

export interface RequestSignerOptions {
  /** Include the signingTime attribute, as devices do. Defaults to true. */
  signingTime?: boolean;
  /** Clock for signingTime; tests only. */
  now?: () => Date;
}

/**
 * Signs request bodies the way an enrolled device does for `Mdm-Signature`: a base64 CMS
 * SignedData, detached, SHA-256, with contentType, signingTime and messageDigest signed
 * attributes and the device certificate included.
 */
export class RequestSigner {
  /** Fingerprint of the signing certificate. */
  readonly fingerprint: string;

  private readonly key: KeyObject;
  private readonly now: () => Date;
  private readonly withSigningTime: boolean;
  // Everything but the digest, the time and the signature is the same for every request.
  private readonly contentTypeAttribute: Buffer;
  private readonly signerIdentifier: Buffer;
  private readonly digestAlgorithm: Buffer;
  private readonly signatureAlgorithm: Buffer;
  private readonly signedDataHead: Buffer;

  /** Throws `IDENTITY.MATERIAL_INVALID` for unreadable or mismatched material. */
  constructor(identity: IdentityPem, options: RequestSignerOptions = {}) {
    const [der] = pemBlocks(identity.certificatePem, 'CERTIFICATE');
    if (der === undefined) {
      throw invalid('The signing certificate is not a PEM "CERTIFICATE" block.');
    }

    let summary;
    try {
      summary = summarizeCertificate(der);
      this.key = createPrivateKey(identity.privateKeyPem);
      if (!new X509Certificate(der).checkPrivateKey(this.key)) {
        throw new Error('the private key does not belong to the certificate');
      }
    } catch (error) {
      throw invalid(`The signing identity cannot be used: ${messageOf(error)}`, error);
    }

    this.fingerprint = summary.fingerprint;
    this.now = options.now ?? (() => new Date());
    this.withSigningTime = options.signingTime ?? true;
    this.contentTypeAttribute = attribute(Oid.contentType, oid(Oid.data));
    this.signerIdentifier = sequence(summary.issuerRaw, summary.serialRaw);
    this.digestAlgorithm = sequence(oid(Oid.sha256));
    this.signatureAlgorithm = signatureAlgorithmOf(this.key);
    this.signedDataHead = Buffer.concat([
      smallInteger(1),
      setOf(this.digestAlgorithm),
      sequence(oid(Oid.data)),
      explicit(0, der),
    ]);
  }

  /** The base64 `Mdm-Signature` header value for exactly these body bytes. */
  sign(body: Uint8Array): string {
    const digest = createHash('sha256').update(body).digest();
    const attributes = [
      this.contentTypeAttribute,
      attribute(Oid.messageDigest, octetString(digest)),
    ];
    if (this.withSigningTime) {
      attributes.push(attribute(Oid.signingTime, time(this.now())));
    }

    // The signature covers the attributes encoded as a SET OF; in the SignerInfo the same
    // content sits under the [0] IMPLICIT tag (RFC 5652 §5.4).
    const signedAttributes = setOf(...attributes);
    const signature = sign('sha256', signedAttributes, this.key);
    signedAttributes[0] = 0xa0;

    const signerInfo = sequence(
      smallInteger(1),
      this.signerIdentifier,
      this.digestAlgorithm,
      signedAttributes,
      this.signatureAlgorithm,
      octetString(signature),
    );
    const signedData = sequence(this.signedDataHead, setOf(signerInfo));

    return sequence(oid(Oid.signedData), explicit(0, signedData)).toString('base64');
  }
}

function attribute(type: string, value: Buffer): Buffer {
  return sequence(oid(type), setOf(value));
}

function signatureAlgorithmOf(key: KeyObject): Buffer {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return sequence(oid(Oid.rsaEncryption), NULL);
    case 'ec':
      return sequence(oid(Oid.ecdsaWithSha256));
    default:
      throw invalid(
        `A ${key.asymmetricKeyType ?? 'unknown'} key cannot sign requests; use RSA or EC.`,
      );
  }
}

function invalid(message: string, cause?: unknown): IdentityError {
  return new IdentityError('IDENTITY.MATERIAL_INVALID', message, { cause });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
