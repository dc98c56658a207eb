import { createPublicKey, generateKeyPairSync } from 'node:crypto';

import { RequestedIdentity, scepRequestProblem } from './scep-request-rules.js';

const rsa2048 = createPublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

function request(overrides: Partial<RequestedIdentity> = {}): RequestedIdentity {
  return {
    subject: Buffer.alloc(40),
    commonName: 'device identity',
    publicKey: rsa2048,
    ...overrides,
  };
}

describe('scepRequestProblem', () => {
  it('accepts what an enrollment profile asks a device for: RSA 2048 and a short name', () => {
    expect(scepRequestProblem(request())).toBeUndefined();
  });

  it('accepts EC keys on P-256', () => {
    const ec = createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

    expect(scepRequestProblem(request({ publicKey: ec }))).toBeUndefined();
  });

  it.each([
    [
      'a weak RSA key',
      () =>
        request({
          publicKey: createPublicKey(
            generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
          ),
        }),
      'an RSA key of 1024 bits',
    ],
    [
      'a key of another kind',
      () => request({ publicKey: createPublicKey(generateKeyPairSync('ed25519').privateKey) }),
      'a ed25519 key',
    ],
    [
      'an EC key on another curve',
      () =>
        request({
          publicKey: createPublicKey(
            generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
          ),
        }),
      'secp256k1',
    ],
    [
      'a common name too long to store',
      () => request({ commonName: 'x'.repeat(256) }),
      'longer than 255',
    ],
    ['a huge subject', () => request({ subject: Buffer.alloc(2000) }), '2000 bytes'],
  ])('refuses %s', (_name, make, reason) => {
    expect(scepRequestProblem(make())).toContain(reason);
  });
});
