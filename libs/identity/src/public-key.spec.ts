import { generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';

import { publicKeyFromSpki } from './public-key.js';

function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

const keyPairs = {
  'RSA 2048': () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  // A small exponent and a modulus whose DER integer needs no leading zero are read the same way.
  'RSA 1024, exponent 3': () => generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 3 }),
  'EC P-256': () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
  'EC P-384': () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }),
  'EC P-521': () => generateKeyPairSync('ec', { namedCurve: 'secp521r1' }),
  // Neither RSA nor EC: read by Node's own DER import.
  Ed25519: () => generateKeyPairSync('ed25519'),
};

describe('publicKeyFromSpki', () => {
  it.each(Object.entries(keyPairs))('reads a %s key that checks the pair’s signatures', (_kind, generate) => {
    const { publicKey, privateKey } = generate();
    const hash = publicKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    const signature = sign(hash, Buffer.from('Idle'), privateKey);

    const read = publicKeyFromSpki(spkiOf(publicKey));

    expect(spkiOf(read).equals(spkiOf(publicKey))).toBe(true);
    expect(verify(hash, Buffer.from('Idle'), read, signature)).toBe(true);
  });

  it('refuses bytes that are not a whole SubjectPublicKeyInfo', () => {
    const spki = spkiOf(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);

    expect(() => publicKeyFromSpki(spki.subarray(0, spki.length - 1))).toThrow();
    expect(() => publicKeyFromSpki(Buffer.concat([spki, Buffer.from([0])]))).toThrow();
    expect(() => publicKeyFromSpki(Buffer.alloc(0))).toThrow();
  });

  it('refuses an RSA key whose modulus is negative', () => {
    const spki = Buffer.from(spkiOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey));
    // RSAPublicKey's modulus starts 02 81 81 00: drop the sign octet's meaning by setting its top bit.
    const modulus = spki.indexOf(Buffer.from([0x02, 0x81, 0x81, 0x00]));
    expect(modulus).toBeGreaterThan(0);
    spki[modulus + 3] = 0x80;

    expect(() => publicKeyFromSpki(spki)).toThrow(/negative/);
  });
});
