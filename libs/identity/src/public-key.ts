import { createPublicKey, JsonWebKey, KeyObject } from 'node:crypto';

import {
  Asn1Error,
  bitStringOctetsOf,
  contentOf,
  expectConstructed,
  expectUniversal,
  oidOf,
  parseAsn1,
  Tag,
} from './der.js';
import { Oid } from './oids.js';

// The named curves whose points a JWK can carry, with the size of one coordinate.
const CURVES: ReadonlyMap<string, { crv: string; size: number }> = new Map([
  ['1.2.840.10045.3.1.7', { crv: 'P-256', size: 32 }],
  ['1.3.132.0.34', { crv: 'P-384', size: 48 }],
  ['1.3.132.0.35', { crv: 'P-521', size: 66 }],
]);

/**
 * The key of a DER SubjectPublicKeyInfo. RSA and named-curve EC keys are read here and handed to
 * Node as a JWK: with OpenSSL 3, Node's DER import (and `new X509Certificate`, which imports its
 * key the same way) took about 100 µs a key, the JWK about 4. Every SCEP enrollment and every new
 * device certificate reads several. Any other kind of key goes through the DER import. Throws when
 * the bytes are not a key Node accepts.
 */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  const jwk = jwkOf(spki);

  return jwk
    ? createPublicKey({ key: jwk, format: 'jwk' })
    : createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/** The JWK of an RSA or named-curve EC SubjectPublicKeyInfo; undefined for other kinds. */
function jwkOf(spki: Buffer): JsonWebKey | undefined {
  const root = expectConstructed(parseAsn1(spki), Tag.Sequence, 'SubjectPublicKeyInfo');
  const algorithm = expectConstructed(root.children[0], Tag.Sequence, 'public key algorithm');
  const key = bitStringOctetsOf(spki, root.children[1], 'subjectPublicKey');
  const kind = oidOf(spki, algorithm.children[0], 'public key algorithm');

  if (kind === Oid.rsaEncryption) {
    const rsa = expectConstructed(parseAsn1(key), Tag.Sequence, 'RSAPublicKey');
    if (rsa.children.length !== 2) {
      throw new Asn1Error('RSAPublicKey is not a modulus and an exponent');
    }
    const [modulus, exponent] = [0, 1].map((index) =>
      unsigned(contentOf(key, expectUniversal(rsa.children[index], Tag.Integer, 'RSAPublicKey'))),
    );

    return { kty: 'RSA', n: modulus!.toString('base64url'), e: exponent!.toString('base64url') };
  }
  if (kind === Oid.ecPublicKey && algorithm.children[1]?.tag === Tag.ObjectIdentifier) {
    const curve = CURVES.get(oidOf(spki, algorithm.children[1], 'named curve'));
    // Only an uncompressed point (04 || X || Y) splits into a JWK's coordinates.
    if (!curve || key.length !== 1 + 2 * curve.size || key[0] !== 0x04) {
      return undefined;
    }

    return {
      kty: 'EC',
      crv: curve.crv,
      x: key.subarray(1, 1 + curve.size).toString('base64url'),
      y: key.subarray(1 + curve.size).toString('base64url'),
    };
  }

  return undefined;
}

// A DER INTEGER is signed: a positive one whose top bit is set has one leading zero octet.
function unsigned(integer: Buffer): Buffer {
  if (integer.length === 0 || (integer[0]! & 0x80) !== 0) {
    throw new Asn1Error('RSAPublicKey holds a negative or empty integer');
  }

  return integer[0] === 0 && integer.length > 1 ? integer.subarray(1) : integer;
}
