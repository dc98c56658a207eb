import { createHash, KeyObject, timingSafeEqual, X509Certificate } from 'node:crypto';

import {
  CertificateKeyAndSignature,
  CertificateSummary,
  fingerprintOf,
  keyAndSignatureOf,
  pemBlocks,
  summarizeCertificate,
} from './certificate.js';
import { DIGEST_ALGORITHMS, SIGNATURE_ALGORITHMS, signatureHolds } from './cms-algorithms.js';
import { Asn1Error, octetStringOf, oidOf } from './der.js';
import { IdentityError, IdentityErrorCode } from './identity.errors.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki } from './public-key.js';
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
  readonly publicKey: KeyObject;
  readonly summary: CertificateSummary;
  /** The raw subject, latin1: the issuer of every certificate it issued, held once for them all. */
  readonly subject: string;
}

// What a chain check leaves in the cache, once per device: no byte of the certificate. A copy of
// its DER would be cut from Node's shared 8 KiB buffer pool and keep the whole slab resident, about
// 8 KiB a device (80 MB with 10,000 enrolled). The cache is keyed by the certificate's SHA-256, so
// the certificate of the request at hand has the very bytes that were checked.
interface TrustedCertificate {
  readonly publicKey: KeyObject;
  readonly authority: CertificateSummary;
  readonly facts: CertificateFacts;
}

// What a request needs of its signer's certificate once the chain is known good: reading these
// from the DER again was a tenth of the CPU of a signed Idle. Raw fields are latin1 strings, which
// V8 stores compactly in the heap, not Buffers cut from the shared pool (see above).
interface CertificateFacts {
  readonly serialNumber: string;
  readonly commonName: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuer: string;
  readonly serial: string;
  readonly subjectKeyIdentifier: string | undefined;
}

/** A certificate of the request at hand: its bytes, and what is known of them. */
interface PresentedCertificate {
  readonly der: Buffer;
  readonly fingerprint: string;
  readonly facts: CertificateFacts;
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
          const summary = summarizeCertificate(der);
          const certificate = new X509Certificate(der);

          return {
            certificate,
            publicKey: certificate.publicKey,
            summary,
            subject: summary.subjectRaw.toString('latin1'),
          };
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
          `"${certificate.facts.commonName}".`,
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

    const certificate = presented(summary);
    this.trust(certificate);

    return identityOf(certificate);
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

  private signerCertificate(signedData: SignedData, signer: SignerInfo): PresentedCertificate {
    const id = signer.signerIdentifier;
    for (const der of signedData.certificates) {
      const certificate = this.presentedCertificate(der);
      const { facts } = certificate;
      const matches =
        id.kind === 'issuerAndSerial'
          ? facts.issuer === id.issuer.toString('latin1') &&
            facts.serial === id.serial.toString('latin1')
          : facts.subjectKeyIdentifier === id.keyIdentifier.toString('latin1');
      if (matches) {
        return certificate;
      }
    }

    throw fail(
      'IDENTITY.SIGNATURE_MALFORMED',
      "The Mdm-Signature does not include the signer's certificate; devices always include it.",
    );
  }

  /** A certificate of the signature, read from its DER unless its chain was checked before. */
  private presentedCertificate(der: Buffer): PresentedCertificate {
    const fingerprint = fingerprintOf(der);
    const known = this.trusted.get(fingerprint);
    if (known) {
      return { der, fingerprint, facts: known.facts };
    }
    let summary: CertificateSummary;
    try {
      summary = summarizeCertificate(der);
    } catch (error) {
      throw malformed(error, 'A certificate inside the Mdm-Signature cannot be read');
    }

    return presented(summary);
  }

  /** Chain and validity check; the chain part is remembered per certificate fingerprint. */
  private trust(certificate: PresentedCertificate): TrustedCertificate {
    const { fingerprint, facts } = certificate;
    let trusted = this.trusted.get(fingerprint);
    if (trusted) {
      // Re-inserting keeps the map in least-recently-used order for eviction.
      this.trusted.delete(fingerprint);
    } else {
      trusted = this.checkChain(certificate);
      if (this.trusted.size >= this.cacheSize) {
        this.trusted.delete(this.trusted.keys().next().value as string);
      }
    }
    this.trusted.set(fingerprint, trusted);

    const now = this.now().getTime();
    const name = facts.commonName;
    if (now > facts.notAfter) {
      throw fail(
        'IDENTITY.CERTIFICATE_EXPIRED',
        `The device certificate "${name}" expired at ${new Date(facts.notAfter).toISOString()}; ` +
          'the device needs a new identity (re-enroll it).',
      );
    }
    if (now < facts.notBefore) {
      throw fail(
        'IDENTITY.CERTIFICATE_UNTRUSTED',
        `The device certificate "${name}" is not valid before ` +
          `${new Date(facts.notBefore).toISOString()}; check this server's clock.`,
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

  private checkChain(presentedCertificate: PresentedCertificate): TrustedCertificate {
    const { facts } = presentedCertificate;
    let parts: CertificateKeyAndSignature;
    let publicKey: KeyObject;
    try {
      parts = keyAndSignatureOf(presentedCertificate.der);
      publicKey = publicKeyFromSpki(parts.subjectPublicKeyInfo);
    } catch (error) {
      throw malformed(error, 'The device certificate cannot be read');
    }

    // Read and checked here rather than by X509Certificate, whose key import alone cost about
    // 100 µs for every new device certificate. A signature algorithm this library does not know
    // (RSA-PSS from another CA, say) is left to OpenSSL as before.
    const algorithm = SIGNATURE_ALGORITHMS.get(parts.signatureAlgorithm);
    const issuedBy = (authority: TrustedAuthority): boolean =>
      algorithm?.hash !== undefined
        ? facts.issuer === authority.subject &&
          signatureHolds(algorithm.hash, algorithm.keyType, parts.tbs, authority.publicKey, parts.signature)
        : safely(() => {
            const certificate = new X509Certificate(presentedCertificate.der);

            return certificate.checkIssued(authority.certificate) && certificate.verify(authority.publicKey);
          });
    for (const authority of this.authorities) {
      if (issuedBy(authority)) {
        const issuer = facts.issuer === authority.subject ? authority.subject : facts.issuer;

        return { publicKey, authority: authority.summary, facts: { ...facts, issuer } };
      }
    }

    throw fail(
      'IDENTITY.CERTIFICATE_UNTRUSTED',
      `The certificate "${facts.commonName}" (serial ${facts.serialNumber}) was not ` +
        "issued by this service's CA; the device must re-enroll to get an identity from this " +
        'server.',
    );
  }
}

function presented(summary: CertificateSummary): PresentedCertificate {
  return {
    der: summary.der,
    fingerprint: summary.fingerprint,
    facts: {
      serialNumber: summary.serialNumber,
      commonName: summary.commonName,
      notBefore: summary.notBefore.getTime(),
      notAfter: summary.notAfter.getTime(),
      issuer: summary.issuerRaw.toString('latin1'),
      serial: summary.serialRaw.toString('latin1'),
      subjectKeyIdentifier: summary.subjectKeyIdentifier?.toString('latin1'),
    },
  };
}

function identityOf(certificate: PresentedCertificate): VerifiedIdentity {
  return {
    fingerprint: certificate.fingerprint,
    certificateDer: Buffer.from(certificate.der),
    subject: certificate.facts.commonName,
    serialNumber: certificate.facts.serialNumber,
    notAfter: new Date(certificate.facts.notAfter),
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
