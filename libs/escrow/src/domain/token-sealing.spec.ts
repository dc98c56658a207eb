import { randomBytes } from 'node:crypto';

import { EscrowKeyError, SealBrokenError } from './escrow.errors.js';
import { SealedToken, TokenSealer } from './token-sealing.js';

const UDID = '00008120-0001A2B33C44D55E';
const OTHER_UDID = '00008120-0009F8E77D66C55B';

function flipped(bytes: Buffer, index = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = copy[index]! ^ 0x01;

  return copy;
}

describe('TokenSealer', () => {
  const key = randomBytes(32);
  const sealer = new TokenSealer(key);
  const token = randomBytes(32);
  let sealed: SealedToken;

  beforeEach(() => {
    sealed = sealer.seal({ udid: UDID, version: 1 }, token);
  });

  it('opens what it sealed, byte for byte', () => {
    expect(sealer.open({ udid: UDID, version: 1 }, sealed).equals(token)).toBe(true);
  });

  it('round-trips a token of any length, including one byte', () => {
    const tiny = Buffer.from([0x2a]);
    const large = randomBytes(4096);

    expect(
      sealer.open({ udid: UDID, version: 2 }, sealer.seal({ udid: UDID, version: 2 }, tiny)),
    ).toEqual(tiny);
    expect(
      sealer.open({ udid: UDID, version: 3 }, sealer.seal({ udid: UDID, version: 3 }, large)),
    ).toEqual(large);
  });

  it('uses a fresh 12-byte IV for every seal, so equal tokens seal differently', () => {
    const again = sealer.seal({ udid: UDID, version: 1 }, token);

    expect(sealed.iv).toHaveLength(12);
    expect(sealed.authTag).toHaveLength(16);
    expect(again.iv.equals(sealed.iv)).toBe(false);
    expect(again.ciphertext.equals(sealed.ciphertext)).toBe(false);
  });

  it('does not contain the token in any sealed part', () => {
    const parts = Buffer.concat([sealed.iv, sealed.ciphertext, sealed.authTag]);

    expect(parts.includes(token)).toBe(false);
  });

  it('refuses to open under another key', () => {
    const stranger = new TokenSealer(randomBytes(32));

    expect(() => stranger.open({ udid: UDID, version: 1 }, sealed)).toThrow(SealBrokenError);
  });

  it('refuses to open as another device (the UDID is bound as AAD)', () => {
    expect(() => sealer.open({ udid: OTHER_UDID, version: 1 }, sealed)).toThrow(SealBrokenError);
  });

  it('refuses to open as another version of the same device', () => {
    expect(() => sealer.open({ udid: UDID, version: 2 }, sealed)).toThrow(SealBrokenError);
  });

  it.each([
    ['ciphertext', (s: SealedToken) => ({ ...s, ciphertext: flipped(s.ciphertext, 7) })],
    ['authentication tag', (s: SealedToken) => ({ ...s, authTag: flipped(s.authTag) })],
    ['IV', (s: SealedToken) => ({ ...s, iv: flipped(s.iv) })],
    ['truncated tag', (s: SealedToken) => ({ ...s, authTag: s.authTag.subarray(0, 4) })],
    ['truncated ciphertext', (s: SealedToken) => ({ ...s, ciphertext: s.ciphertext.subarray(1) })],
  ])('refuses to open after the %s is tampered with', (_part, tamper) => {
    expect(() => sealer.open({ udid: UDID, version: 1 }, tamper(sealed))).toThrow(SealBrokenError);
  });

  it('names the row but never the token in its error', () => {
    let caught: unknown;
    try {
      sealer.open({ udid: OTHER_UDID, version: 1 }, sealed);
    } catch (error) {
      caught = error;
    }

    expect(caught).toMatchObject({ code: 'ESCROW.SEAL_BROKEN' });
    const text = `${String(caught)} ${JSON.stringify(caught)}`;
    expect(text).toContain(OTHER_UDID);
    expect(text).not.toContain(token.toString('base64'));
    expect(text).not.toContain(token.toString('hex'));
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new TokenSealer(randomBytes(16))).toThrow(EscrowKeyError);
    expect(() => new TokenSealer(Buffer.alloc(0))).toThrow(EscrowKeyError);
  });

  describe('fingerprint', () => {
    it('is the same for the same token on the same device', () => {
      expect(sealer.fingerprint(UDID, token)).toEqual(sealer.fingerprint(UDID, Buffer.from(token)));
    });

    it('differs for another token, another device, or another key', () => {
      const print = sealer.fingerprint(UDID, token);

      expect(sealer.fingerprint(UDID, randomBytes(32)).equals(print)).toBe(false);
      expect(sealer.fingerprint(OTHER_UDID, token).equals(print)).toBe(false);
      expect(new TokenSealer(randomBytes(32)).fingerprint(UDID, token).equals(print)).toBe(false);
    });

    it('cannot be confused by moving bytes between the UDID and the token', () => {
      const joined = Buffer.from('AB', 'utf8');

      expect(
        sealer.fingerprint('A', joined.subarray(1)).equals(sealer.fingerprint('', joined)),
      ).toBe(false);
    });
  });
});
