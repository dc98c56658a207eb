import { createHash, KeyObject, timingSafeEqual, X509Certificate } from 'node:crypto';

import { CertificateSummary, pemBlocks, summarizeCertificate } from './certificate.js';
import { DIGEST_ALGORITHMS, SIGNATURE_ALGORITHMS, signatureHolds } from './cms-algorithms.js';
import { Asn1Error, octetStringOf, oidOf } from './der.js';
import { IdentityError, IdentityErrorCode } from './identity.errors.js';
import { Oid } from './oids.js';
import { parseSignedData, SignedData, SignerInfo } from './signed-data.js';

/** Who signed a request (or presented a certificate through the proxy), once verified. */
export interface VerifiedIdentity {
  /** Lower-case hex SHA-256 of `certificateDer`. */
  fingerprint: string;
  certificateDer: Buffer;
  /** The certificate subject's common name; empty when it has none. */
  subject: string;
  /** Lower-case hex. */
  serialNumber: string;
  notAfter: Date;
}

export interface SignatureVerifierOptions {
  /** How many device certificates to remember as already chain-checked. Defaults to 10 000. */
  cacheSize?: number;
  /** Clock for validity checks; tests only. */
  now?: () => Date;
}

interface TrustedAuthority {
  readonly certificate: X509Certificate;
  readonly summary: CertificateSummary;
}

// What a chain check leaves in the cache, once per device: no byte of the certificate. A copy of
// its DER would be cut from Node's shared 8 KiB buffer pool and keep the whole slab resident, about
// 8 KiB a device (80 MB with 10,000 enrolled). The cache is keyed by the certificate's SHA-256, so
// the certificate of the request at hand has the very bytes that were checked.
interface TrustedCertificate {
  readonly publicKey: KeyObject;
  readonly authority: CertificateSummary;
}

// Real headers are 2-5 KB; anything far larger is not worth decoding.
const MAX_HEADER_LENGTH = 64 * 1024;
const DEFAULT_CACHE_SIZE = 10_000;

/**
 * Checks `Mdm-Signature` headers (and proxy-forwarded client certificates) against the
 * service's CA certificates. Every failure is an `IdentityError` with a stable code.
 */
export class SignatureVerifier {
  private readonly authorities: readonly TrustedAuthority[];
  private readonly trusted = new Map<string, TrustedCertificate>();
  private readonly cacheSize: number;
  private readonly now: () => Date;

  /**
   * @param trustedCertificatesPem one or more PEM strings, each holding one or more CA
   *   certificates whose device certificates are accepted.
   */
  constructor(
    trustedCertificatesPem: string | readonly string[],
    options: SignatureVerifierOptions = {},
  ) {
    const pems =
      typeof trustedCertificatesPem === 'string'
        ? [trustedCertificatesPem]
        : trustedCertificatesPem;
    this.authorities = pems
      .flatMap((pem) => pemBlocks(pem, 'CERTIFICATE'))
      .map((der) => {
        try {
          return { certificate: new X509Certificate(der), summary: summarizeCertificate(der) };
        } catch (error) {
          throw new IdentityError(
            'IDENTITY.MATERIAL_INVALID',
            `A trusted CA certificate cannot be read: ${messageOf(error)}`,
            { cause: error },
          );
        }
      });
    if (this.authorities.length === 0) {
      throw new IdentityError(
        'IDENTITY.MATERIAL_INVALID',
        'SignatureVerifier needs at least one PEM "CERTIFICATE" block to trust.',
      );
    }
    this.cacheSize = Math.max(1, options.cacheSize ?? DEFAULT_CACHE_SIZE);
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Verifies a base64 CMS detached signature over the exact body bytes and returns the signer.
   * Throws `IDENTITY.SIGNATURE_MISSING`, `_MALFORMED`, `_INVALID`, `IDENTITY.CERTIFICATE_UNTRUSTED`
   * or `_EXPIRED`.
   */
  verify(header: string | undefined, body: Uint8Array): VerifiedIdentity {
    if (typeof header !== 'string' || header.trim() === '') {
      throw fail(
        'IDENTITY.SIGNATURE_MISSING',
        'The request has no Mdm-Signature header; the enrollment profile must set ' +
          'SignMessage to true.',
      );
    }

    if (!(body instanceof Uint8Array)) {
      // A programming error, not a device's: the raw body was not captured.
      throw new TypeError('SignatureVerifier.verify needs the raw request body bytes');
    }

    const bytes = decodeBase64(header, 'The Mdm-Signature header');
    let signedData: SignedData;
    try {
      signedData = parseSignedData(bytes);
    } catch (error) {
      throw malformed(error, 'The Mdm-Signature header is not a CMS SignedData');
    }

    const signer = this.onlySigner(signedData);
    const hash = DIGEST_ALGORITHMS.get(signer.digestAlgorithm);
    const algorithm = SIGNATURE_ALGORITHMS.get(signer.signatureAlgorithm);
    if (hash === undefined || algorithm === undefined) {
      throw fail(
        'IDENTITY.SIGNATURE_MALFORMED',
        `The Mdm-Signature uses an unsupported algorithm (digest ${signer.digestAlgorithm}, ` +
          `signature ${signer.signatureAlgorithm}); expected SHA-1/SHA-2 with RSA or ECDSA.`,
      );
    }

    const certificate = this.signerCertificate(signedData, signer);
    const trusted = this.trust(certificate);

    if (signedData.content !== undefined && !signedData.content.equals(body)) {
      throw fail(
        'IDENTITY.SIGNATURE_INVALID',
        'The Mdm-Signature encloses content that differs from the request body.',
      );
    }

    let signedBytes: Uint8Array = body;
    if (signer.signedAttributes) {
      const expected = messageDigestOf(signer);
      const actual = createHash(hash).update(body).digest();
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
        throw fail(
          'IDENTITY.SIGNATURE_INVALID',
          'The Mdm-Signature was made over a different body: its messageDigest does not match ' +
            'the bytes received (was the body changed by a proxy or re-encoded?).',
        );
      }
      signedBytes = signer.signedAttributes.encoded;
    }

    if (
      !signatureHolds(
        algorithm.hash ?? hash,
        algorithm.keyType,
        signedBytes,
        trusted.publicKey,
        signer.signature,
      )
    ) {
      throw fail(
        'IDENTITY.SIGNATURE_INVALID',
        'The Mdm-Signature does not verify with the key of certificate ' +
          `"${certificate.commonName}".`,
      );
    }

    return identityOf(certificate);
  }

  /**
   * The identity a TLS-terminating proxy forwarded: a URL-encoded PEM certificate (nginx
   * `$ssl_client_escaped_cert`), a plain PEM or base64 DER. The proxy did the TLS proof of
   * possession; this checks the chain and validity like `verify`.
   */
  identityFromProxyHeader(value: string | undefined): VerifiedIdentity {
    if (typeof value !== 'string' || value.trim() === '') {
      throw fail(
        'IDENTITY.SIGNATURE_MISSING',
        'The proxy forwarded no client certificate; require client certificates on the proxy and ' +
          'pass them on (nginx: $ssl_client_escaped_cert).',
      );
    }
    if (value.length > MAX_HEADER_LENGTH) {
      throw fail('IDENTITY.SIGNATURE_MALFORMED', 'The client certificate header is too long.');
    }

    let text = value.trim();
    if (text.includes('%')) {
      try {
        text = decodeURIComponent(text);
      } catch {
        throw fail(
          'IDENTITY.SIGNATURE_MALFORMED',
          'The client certificate header has broken URL encoding.',
        );
      }
    }

    let der: Buffer;
    if (text.includes('-----BEGIN')) {
      const [first] = pemBlocks(text, 'CERTIFICATE');
      if (first === undefined) {
        throw fail(
          'IDENTITY.SIGNATURE_MALFORMED',
          'The client certificate header holds no readable "BEGIN CERTIFICATE" block.',
        );
      }
      der = first;
    } else {
      der = decodeBase64(text, 'The client certificate header');
    }

    let summary: CertificateSummary;
    try {
      summary = summarizeCertificate(der);
    } catch (error) {
      throw malformed(error, 'The client certificate header is not an X.509 certificate');
    }

    this.trust(summary);

    return identityOf(summary);
  }

  private onlySigner(signedData: SignedData): SignerInfo {
    const { signers } = signedData;
    if (signers.length === 0) {
      throw fail(
        'IDENTITY.SIGNATURE_INVALID',
        'The Mdm-Signature has no signer, so it proves nothing.',
      );
    }
    if (signers.length > 1) {
      throw fail(
        'IDENTITY.SIGNATURE_MALFORMED',
        `The Mdm-Signature has ${signers.length} signers; a device signs with exactly one ` +
          'identity.',
      );
    }

    return signers[0];
  }

  private signerCertificate(signedData: SignedData, signer: SignerInfo): CertificateSummary {
    const id = signer.signerIdentifier;
    for (const der of signedData.certificates) {
      let summary: CertificateSummary;
      try {
        summary = summarizeCertificate(der);
      } catch (error) {
        throw malformed(error, 'A certificate inside the Mdm-Signature cannot be read');
      }
      const matches =
        id.kind === 'issuerAndSerial'
          ? summary.issuerRaw.equals(id.issuer) && summary.serialRaw.equals(id.serial)
          : summary.subjectKeyIdentifier !== undefined &&
            summary.subjectKeyIdentifier.equals(id.keyIdentifier);
      if (matches) {
        return summary;
      }
    }

    throw fail(
      'IDENTITY.SIGNATURE_MALFORMED',
      "The Mdm-Signature does not include the signer's certificate; devices always include it.",
    );
  }

  /** Chain and validity check; the chain part is remembered per certificate fingerprint. */
  private trust(summary: CertificateSummary): TrustedCertificate {
    let trusted = this.trusted.get(summary.fingerprint);
    if (trusted) {
      // Re-inserting keeps the map in least-recently-used order for eviction.
      this.trusted.delete(summary.fingerprint);
    } else {
      trusted = this.checkChain(summary);
      if (this.trusted.size >= this.cacheSize) {
        this.trusted.delete(this.trusted.keys().next().value as string);
      }
    }
    this.trusted.set(summary.fingerprint, trusted);

    const now = this.now().getTime();
    const name = summary.commonName;
    if (now > summary.notAfter.getTime()) {
      throw fail(
        'IDENTITY.CERTIFICATE_EXPIRED',
        `The device certificate "${name}" expired at ${summary.notAfter.toISOString()}; ` +
          'the device needs a new identity (re-enroll it).',
      );
    }
    if (now < summary.notBefore.getTime()) {
      throw fail(
        'IDENTITY.CERTIFICATE_UNTRUSTED',
        `The device certificate "${name}" is not valid before ` +
          `${summary.notBefore.toISOString()}; check this server's clock.`,
      );
    }
    if (now > trusted.authority.notAfter.getTime()) {
      throw fail(
        'IDENTITY.CERTIFICATE_EXPIRED',
        `The CA "${trusted.authority.commonName}" that issued "${name}" expired at ` +
          `${trusted.authority.notAfter.toISOString()}; replace the CA and re-enroll devices.`,
      );
    }

    return trusted;
  }

  private checkChain(summary: CertificateSummary): TrustedCertificate {
    let certificate: X509Certificate;
    let publicKey: KeyObject;
    try {
      certificate = new X509Certificate(summary.der);
      publicKey = certificate.publicKey;
    } catch (error) {
      throw malformed(error, 'The device certificate cannot be read');
    }

    for (const authority of this.authorities) {
      if (
        certificate.checkIssued(authority.certificate) &&
        safely(() => certificate.verify(authority.certificate.publicKey))
      ) {
        return { publicKey, authority: authority.summary };
      }
    }

    throw fail(
      'IDENTITY.CERTIFICATE_UNTRUSTED',
      `The certificate "${summary.commonName}" (serial ${summary.serialNumber}) was not ` +
        "issued by this service's CA; the device must re-enroll to get an identity from this " +
        'server.',
    );
  }
}

function identityOf(summary: CertificateSummary): VerifiedIdentity {
  return {
    fingerprint: summary.fingerprint,
    certificateDer: Buffer.from(summary.der),
    subject: summary.commonName,
    serialNumber: summary.serialNumber,
    notAfter: new Date(summary.notAfter.getTime()),
  };
}

function messageDigestOf(signer: SignerInfo): Buffer {
  const attributes = signer.signedAttributes;
  const values = attributes?.values.get(Oid.messageDigest);
  if (!attributes || values?.length !== 1) {
    throw fail(
      'IDENTITY.SIGNATURE_MALFORMED',
      'The Mdm-Signature has signed attributes but not exactly one messageDigest.',
    );
  }

  const contentTypes = attributes.values.get(Oid.contentType);
  try {
    if (
      contentTypes &&
      (contentTypes.length !== 1 ||
        oidOf(attributes.source, contentTypes[0], 'contentType') !== Oid.data)
    ) {
      throw new Asn1Error('the contentType attribute is not id-data');
    }

    return octetStringOf(attributes.source, values[0], 'messageDigest');
  } catch (error) {
    throw malformed(error, 'The Mdm-Signature has unreadable signed attributes');
  }
}

function decodeBase64(value: string, what: string): Buffer {
  if (value.length > MAX_HEADER_LENGTH) {
    throw fail('IDENTITY.SIGNATURE_MALFORMED', `${what} is too long.`);
  }

  // Some clients and proxies fold or pad long header values with whitespace.
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) {
    throw fail('IDENTITY.SIGNATURE_MALFORMED', `${what} is not base64.`);
  }

  return Buffer.from(compact, 'base64');
}

function malformed(error: unknown, what: string): IdentityError {
  if (error instanceof IdentityError) {
    return error;
  }
  const reason = error instanceof Asn1Error ? `: ${error.message}` : '';

  return new IdentityError('IDENTITY.SIGNATURE_MALFORMED', `${what}${reason}.`, { cause: error });
}

function fail(code: IdentityErrorCode, message: string): IdentityError {
  return new IdentityError(code, message);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}
