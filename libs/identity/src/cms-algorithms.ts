// The algorithms this library accepts in CMS messages and certification requests, by OID, and
// the one place that checks a signature with them.
import { KeyObject, verify } from 'node:crypto';

import { Oid } from './oids.js';

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export const DIGEST_ALGORITHMS: ReadonlyMap<string, HashName> = new Map([
  [Oid.sha1, 'sha1'],
  [Oid.sha256, 'sha256'],
  [Oid.sha384, 'sha384'],
  [Oid.sha512, 'sha512'],
]);

export const DIGEST_OIDS: Readonly<Record<HashName, string>> = {
  sha1: Oid.sha1,
  sha256: Oid.sha256,
  sha384: Oid.sha384,
  sha512: Oid.sha512,
};

export interface SignatureAlgorithm {
  readonly keyType: 'rsa' | 'ec';
  /** The hash the algorithm names; none for CMS's bare `rsaEncryption` (use digestAlgorithm). */
  readonly hash?: HashName;
}

export const SIGNATURE_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithm> = new Map([
  [Oid.rsaEncryption, { keyType: 'rsa' }],
  [Oid.sha1WithRsa, { keyType: 'rsa', hash: 'sha1' }],
  [Oid.sha256WithRsa, { keyType: 'rsa', hash: 'sha256' }],
  [Oid.sha384WithRsa, { keyType: 'rsa', hash: 'sha384' }],
  [Oid.sha512WithRsa, { keyType: 'rsa', hash: 'sha512' }],
  [Oid.ecPublicKey, { keyType: 'ec' }],
  [Oid.ecdsaWithSha1, { keyType: 'ec', hash: 'sha1' }],
  [Oid.ecdsaWithSha256, { keyType: 'ec', hash: 'sha256' }],
  [Oid.ecdsaWithSha384, { keyType: 'ec', hash: 'sha384' }],
  [Oid.ecdsaWithSha512, { keyType: 'ec', hash: 'sha512' }],
]);

export const ECDSA_OIDS: Readonly<Record<HashName, string>> = {
  sha1: Oid.ecdsaWithSha1,
  sha256: Oid.ecdsaWithSha256,
  sha384: Oid.ecdsaWithSha384,
  sha512: Oid.ecdsaWithSha512,
};

/** Whether `signature` over `data` holds for `key`; false, never a throw, for a wrong key type. */
export function signatureHolds(
  hash: HashName,
  keyType: 'rsa' | 'ec',
  data: Uint8Array,
  key: KeyObject,
  signature: Buffer,
): boolean {
  if (key.asymmetricKeyType !== keyType) {
    return false;
  }

  try {
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

export type ContentCipherName = 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc' | 'des-ede3-cbc';

export interface ContentCipher {
  readonly name: ContentCipherName;
  readonly oid: string;
  readonly keyLength: number;
  readonly ivLength: number;
}

// What SCEP clients encrypt a PKCSReq with: AES once the CA lists it in GetCACaps, Triple DES
// (the RFC 8894 fallback) on clients that predate that.
export const CONTENT_CIPHERS: readonly ContentCipher[] = [
  { name: 'aes-128-cbc', oid: Oid.aes128Cbc, keyLength: 16, ivLength: 16 },
  { name: 'aes-192-cbc', oid: Oid.aes192Cbc, keyLength: 24, ivLength: 16 },
  { name: 'aes-256-cbc', oid: Oid.aes256Cbc, keyLength: 32, ivLength: 16 },
  { name: 'des-ede3-cbc', oid: Oid.desEde3Cbc, keyLength: 24, ivLength: 8 },
];

export function contentCipherNamed(name: ContentCipherName): ContentCipher {
  return CONTENT_CIPHERS.find((cipher) => cipher.name === name)!;
}
