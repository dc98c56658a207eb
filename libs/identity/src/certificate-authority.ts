import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildCertificate,
  CertificateSummary,
  clientAuthExtension,
  distinguishedName,
  keyIdentifierOf,
  keyUsageExtension,
  KeyUsageBit,
  pemBlocks,
  signatureAlgorithmFor,
  subjectKeyIdentifierExtension,
  summarizeCertificate,
  toPem,
} from './certificate.js';
import { IdentityError } from './identity.errors.js';

/** A CA certificate and its private key, both PEM (the key unencrypted PKCS#8). */
export interface CertificateAuthorityMaterial {
  certificatePem: string;
  privateKeyPem: string;
}

export interface CreateCertificateAuthorityOptions {
  commonName: string;
  organization?: string;
  /** Defaults to ten years. */
  validityDays?: number;
}

/** A device identity: what a `com.apple.security.pkcs12` payload delivers to the device. */
export interface DeviceIdentity {
  certificatePem: string;
  /** Unencrypted PKCS#8 PEM. */
  privateKeyPem: string;
  certificateDer: Buffer;
  /** Lower-case hex SHA-256 of `certificateDer`. */
  fingerprint: string;
}

export interface IssueDeviceIdentityOptions {
  commonName: string;
  /** Defaults to one year; never beyond the CA's own expiry. */
  validityDays?: number;
}

export interface IssueCertificateOptions extends IssueDeviceIdentityOptions {
  /** The device's public key (PEM or KeyObject), e.g. from a SCEP request: RSA or EC. */
  publicKey: string | KeyObject;
}

export interface IssuedCertificate {
  certificatePem: string;
  certificateDer: Buffer;
  fingerprint: string;
  serialNumber: string;
  notAfter: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const authorityKeys = new WeakMap<CertificateAuthority, KeyObject>();
const CA_VALIDITY_DAYS = 3650;
const DEVICE_VALIDITY_DAYS = 365;
// Issued certificates start a little in the past so a verifier whose clock runs behind ours
// (another service, a device) does not see them as not yet valid.
const BACKDATE_MS = 5 * 60 * 1000;
// Apple devices accept RSA 2048 for PKCS#12 identities everywhere, and node-forge's PKCS#12
// encoder only handles RSA, so both the CA and device identities use it.
const RSA_BITS = 2048;

/** Creates a self-signed RSA 2048 CA for device identities (synchronous; about 0.1 s). */
export function createCertificateAuthority(
  options: CreateCertificateAuthorityOptions,
): CertificateAuthorityMaterial {
  requireName(options.commonName);
  const validityDays = positiveDays(options.validityDays, CA_VALIDITY_DAYS);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyIdentifier = keyIdentifierOf(spki);
  const name = distinguishedName(options);
  const now = Date.now();

  const der = buildCertificate({
    issuerName: name,
    subjectName: name,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + validityDays * DAY_MS),
    subjectPublicKeyInfo: spki,
    extensions: [
      basicConstraintsExtension(true),
      // digitalSignature and keyEncipherment: as the SCEP CA it signs CertReps and receives
      // requests encrypted to its key (RFC 8894 §2.1). CAs made before SCEP lack both; the
      // clients we know do not check.
      keyUsageExtension([
        KeyUsageBit.digitalSignature,
        KeyUsageBit.keyEncipherment,
        KeyUsageBit.keyCertSign,
        KeyUsageBit.cRLSign,
      ]),
      subjectKeyIdentifierExtension(keyIdentifier),
    ],
    signingKey: privateKey,
  });

  return {
    certificatePem: toPem(der, 'CERTIFICATE'),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The service CA: issues device identities and, through its certificate, anchors verification. */
export class CertificateAuthority {
  readonly certificatePem: string;
  readonly certificateDer: Buffer;
  readonly fingerprint: string;
  readonly commonName: string;
  readonly notAfter: Date;

  private readonly privateKey: KeyObject;
  private readonly summary: CertificateSummary;
  private readonly keyIdentifier: Buffer;

  /** Throws `IDENTITY.MATERIAL_INVALID` unless the PEMs are a CA certificate and its key. */
  constructor(material: CertificateAuthorityMaterial) {
    const [der] = pemBlocks(material.certificatePem, 'CERTIFICATE');
    if (der === undefined) {
      throw invalidMaterial('The CA certificate is not a PEM "CERTIFICATE" block.');
    }

    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(der);
      this.summary = summarizeCertificate(der);
      this.privateKey = createPrivateKey(material.privateKeyPem);
    } catch (error) {
      throw invalidMaterial(`The CA certificate or key cannot be read: ${messageOf(error)}`, error);
    }
    if (!certificate.ca) {
      throw invalidMaterial('The CA certificate lacks basicConstraints CA:TRUE.');
    }
    if (!certificate.checkPrivateKey(this.privateKey)) {
      throw invalidMaterial('The CA private key does not belong to the CA certificate.');
    }
    signatureAlgorithmFor(this.privateKey);

    const spki = createPublicKey(this.privateKey).export({ type: 'spki', format: 'der' });
    this.keyIdentifier = this.summary.subjectKeyIdentifier ?? keyIdentifierOf(spki);
    authorityKeys.set(this, this.privateKey);
    this.certificateDer = der;
    this.certificatePem = toPem(der, 'CERTIFICATE');
    this.fingerprint = this.summary.fingerprint;
    this.commonName = this.summary.commonName;
    this.notAfter = this.summary.notAfter;
  }

  static fromPem(certificatePem: string, privateKeyPem: string): CertificateAuthority {
    return new CertificateAuthority({ certificatePem, privateKeyPem });
  }

  /**
   * A fresh RSA 2048 key pair and a client certificate for it (digitalSignature, clientAuth,
   * random serial). Key generation runs off the event loop.
   */
  async issueDeviceIdentity(options: IssueDeviceIdentityOptions): Promise<DeviceIdentity> {
    requireName(options.commonName);
    const { publicKey, privateKey } = await generateRsaKeyPair();
    const issued = this.issueCertificate({
      ...options,
      publicKey: createPublicKey({ key: publicKey, format: 'der', type: 'spki' }),
    });

    return {
      certificatePem: issued.certificatePem,
      privateKeyPem: privateKey,
      certificateDer: issued.certificateDer,
      fingerprint: issued.fingerprint,
    };
  }

  /** Certifies a public key the device already holds (tests with EC keys). */
  issueCertificate(options: IssueCertificateOptions): IssuedCertificate {
    requireName(options.commonName);

    return this.certify(
      distinguishedName({ commonName: options.commonName }),
      publicKeyDer(options.publicKey),
      positiveDays(options.validityDays, DEVICE_VALIDITY_DAYS),
    );
  }

  /**
   * Certifies the key of a certification request under the subject it asks for (SCEP): the same
   * client certificate as {@link issueCertificate}. The caller has checked the request.
   */
  issueForRequest(
    request: { subject: Buffer; subjectPublicKeyInfo: Buffer },
    options: { validityDays?: number } = {},
  ): IssuedCertificate {
    return this.certify(
      request.subject,
      request.subjectPublicKeyInfo,
      positiveDays(options.validityDays, DEVICE_VALIDITY_DAYS),
    );
  }

  private certify(subjectName: Buffer, spki: Buffer, validityDays: number): IssuedCertificate {
    const now = Date.now();
    const notAfter = new Date(
      Math.min(now + validityDays * DAY_MS, this.summary.notAfter.getTime()),
    );

    const der = buildCertificate({
      issuerName: this.summary.subjectRaw,
      subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      subjectPublicKeyInfo: spki,
      extensions: [
        basicConstraintsExtension(false),
        keyUsageExtension([KeyUsageBit.digitalSignature]),
        clientAuthExtension(),
        subjectKeyIdentifierExtension(keyIdentifierOf(spki)),
        authorityKeyIdentifierExtension(this.keyIdentifier),
      ],
      signingKey: this.privateKey,
    });
    const summary = summarizeCertificate(der);

    return {
      certificatePem: toPem(der, 'CERTIFICATE'),
      certificateDer: der,
      fingerprint: summary.fingerprint,
      serialNumber: summary.serialNumber,
      notAfter: summary.notAfter,
    };
  }
}

/**
 * The CA's private key, for the SCEP server of this library (it decrypts requests and signs
 * replies with it). Not exported from the package.
 */
export function privateKeyOf(authority: CertificateAuthority): KeyObject {
  return authorityKeys.get(authority)!;
}

/**
 * The embedded default: the CA in `dir/ca.crt` and `dir/ca.key`, created on first use (key file
 * mode 0600). Safe when several processes start at once on the same directory: one creates, the
 * others read what it wrote.
 */
export async function loadOrCreateCertificateAuthority(
  dir: string,
  commonName: string,
): Promise<CertificateAuthority> {
  const certificatePath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const existing = await readMaterial(certificatePath, keyPath);
  if (existing) {
    return new CertificateAuthority(existing);
  }

  const material = createCertificateAuthority({ commonName });
  const suffix = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const keyTemp = `${keyPath}.${suffix}`;
  const certificateTemp = `${certificatePath}.${suffix}`;
  await writeFile(keyTemp, material.privateKeyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(certificateTemp, material.certificatePem, { mode: 0o644, flag: 'wx' });

  // link() refuses to replace an existing ca.key, so exactly one process wins the key; the
  // certificate follows by rename, and losers wait for it in readMaterial.
  try {
    await link(keyTemp, keyPath);
  } catch (error) {
    await Promise.all([unlink(keyTemp), unlink(certificateTemp)]);
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
    const winner = await readMaterial(certificatePath, keyPath);
    if (!winner) {
      throw invalidMaterial(`${keyPath} exists but ${certificatePath} never appeared.`);
    }

    return new CertificateAuthority(winner);
  }

  await unlink(keyTemp);
  await rename(certificateTemp, certificatePath);

  return new CertificateAuthority(material);
}

async function readMaterial(
  certificatePath: string,
  keyPath: string,
): Promise<CertificateAuthorityMaterial | undefined> {
  // A key without its certificate means another process is between its two steps; give it a
  // moment before calling the directory broken.
  for (let attempt = 0; attempt < 20; attempt++) {
    const [certificatePem, privateKeyPem] = await Promise.all([
      readOptional(certificatePath),
      readOptional(keyPath),
    ]);
    if (certificatePem !== undefined && privateKeyPem !== undefined) {
      return { certificatePem, privateKeyPem };
    }
    if (privateKeyPem === undefined) {
      if (certificatePem !== undefined) {
        throw invalidMaterial(`${certificatePath} exists without ${keyPath}; restore the key.`);
      }

      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  throw invalidMaterial(`${keyPath} exists without ${certificatePath}; restore the certificate.`);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

function generateRsaKeyPair(): Promise<{ publicKey: Buffer; privateKey: string }> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: RSA_BITS,
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      },
      (error, publicKey, privateKey) => {
        if (error) {
          reject(error);
        } else {
          resolve({ publicKey, privateKey });
        }
      },
    );
  });
}

function publicKeyDer(key: string | KeyObject): Buffer {
  try {
    const object = typeof key === 'string' ? createPublicKey(key) : key;
    const publicKey = object.type === 'private' ? createPublicKey(object) : object;

    return publicKey.export({ type: 'spki', format: 'der' });
  } catch (error) {
    throw invalidMaterial(`The public key to certify cannot be read: ${messageOf(error)}`, error);
  }
}

function requireName(commonName: string): void {
  if (typeof commonName !== 'string' || commonName.trim() === '') {
    throw new RangeError('commonName must be a non-empty string');
  }
}

function positiveDays(value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`validityDays must be a positive number, got ${value}`);
  }

  return value;
}

function invalidMaterial(message: string, cause?: unknown): IdentityError {
  return new IdentityError('IDENTITY.MATERIAL_INVALID', message, { cause });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
