import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';

import forge from 'node-forge';

import { pemBlocks, toPem } from './certificate.js';
import { IdentityError } from './identity.errors.js';

/** A certificate and its private key, both PEM. */
export interface IdentityPem {
  certificatePem: string;
  privateKeyPem: string;
}

export interface ExportPkcs12Options {
  /** Shown by the device as the identity's name; defaults to none. */
  friendlyName?: string;
}

// pbeWithSHAAnd3-KeyTripleDES-CBC with a SHA-1 MAC is what every iOS, iPadOS, tvOS and macOS
// release opens; the AES/PBES2 files that OpenSSL 3 writes by default fail on older releases.
const PKCS12_ALGORITHM = '3des';
const PKCS12_ITERATIONS = 2048;

/**
 * Packs an RSA identity into PKCS#12 (3DES, SHA-1 MAC) for a `com.apple.security.pkcs12` payload.
 * Throws `IDENTITY.MATERIAL_INVALID` for a non-RSA key or a key that does not match.
 */
export function exportPkcs12(
  identity: IdentityPem,
  password: string,
  options: ExportPkcs12Options = {},
): Buffer {
  const [der] = pemBlocks(identity.certificatePem, 'CERTIFICATE');
  if (der === undefined) {
    throw invalid('The identity certificate is not a PEM "CERTIFICATE" block.');
  }

  const key = readPrivateKey(identity.privateKeyPem);
  if (key.asymmetricKeyType !== 'rsa') {
    throw invalid(`Only RSA identities can be exported to PKCS#12, not ${key.asymmetricKeyType}.`);
  }
  if (!readCertificate(der).checkPrivateKey(key)) {
    throw invalid('The private key does not belong to the identity certificate.');
  }

  try {
    const forgeKey = forge.pki.privateKeyFromPem(
      key.export({ type: 'pkcs1', format: 'pem' }).toString(),
    ) as forge.pki.rsa.PrivateKey;
    const forgeCertificate = forge.pki.certificateFromAsn1(
      forge.asn1.fromDer(der.toString('binary')),
    );
    const pfx = forge.pkcs12.toPkcs12Asn1(forgeKey, [forgeCertificate], password, {
      algorithm: PKCS12_ALGORITHM,
      count: PKCS12_ITERATIONS,
      generateLocalKeyId: true,
      // node-forge tests for the key's presence, so an undefined name must not be passed at all.
      ...(options.friendlyName === undefined ? {} : { friendlyName: options.friendlyName }),
    });

    return Buffer.from(forge.asn1.toDer(pfx).getBytes(), 'binary');
  } catch (error) {
    throw invalid(`The identity cannot be packed into PKCS#12: ${messageOf(error)}`, error);
  }
}

/**
 * Opens a PKCS#12 file and returns the private key (PKCS#8 PEM) with the certificate that
 * belongs to it. Throws `IDENTITY.MATERIAL_INVALID` for a wrong password or a damaged file.
 */
export function importPkcs12(bytes: Uint8Array, password: string): IdentityPem {
  let certificates: Buffer[];
  let keys: KeyObject[];
  try {
    const pfx = forge.pkcs12.pkcs12FromAsn1(
      forge.asn1.fromDer(Buffer.from(bytes).toString('binary'), false),
      false,
      password,
    );
    const bags = pfx.safeContents.flatMap((contents) => contents.safeBags);
    certificates = bags
      .filter((bag) => bag.type === forge.pki.oids.certBag)
      .map((bag) => derOf(bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1));
    keys = bags
      .filter(
        (bag) =>
          bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag,
      )
      .map((bag) =>
        bag.key
          ? createPrivateKey(forge.pki.privateKeyToPem(bag.key))
          : createPrivateKey({ key: derOf(bag.asn1), format: 'der', type: 'pkcs8' }),
      );
  } catch (error) {
    throw invalid(
      `The PKCS#12 file cannot be opened (wrong password or damaged file): ${messageOf(error)}`,
      error,
    );
  }

  for (const key of keys) {
    const certificate = certificates.find((der) => readCertificate(der).checkPrivateKey(key));
    if (certificate) {
      return {
        certificatePem: toPem(certificate, 'CERTIFICATE'),
        privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      };
    }
  }

  throw invalid(
    `The PKCS#12 file holds ${keys.length} key(s) and ${certificates.length} certificate(s), ` +
      'but no certificate that belongs to a key.',
  );
}

function derOf(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

function readPrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw invalid(`The private key cannot be read: ${messageOf(error)}`, error);
  }
}

function readCertificate(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (error) {
    throw invalid(`The certificate cannot be read: ${messageOf(error)}`, error);
  }
}

function invalid(message: string, cause?: unknown): IdentityError {
  return new IdentityError('IDENTITY.MATERIAL_INVALID', message, { cause });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
