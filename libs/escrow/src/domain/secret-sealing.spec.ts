import { randomBytes } from 'node:crypto';

import {
  EscrowKeyError,
  KeyNotInRingError,
  KeyRingError,
  SealBrokenError,
} from './escrow.errors.js';
import { legacySeal } from '../testing/legacy-seal.js';
import { KeyRing } from './key-ring.js';
import {
  EnvelopeSeal,
  SealedSecret,
  SecretBinding,
  SecretSealer,
  unwrapDataKey,
  wrapDataKey,
} from './secret-sealing.js';

const UDID = '00008120-0001A2B33C44D55E';
const OTHER_UDID = '00008120-0009F8E77D66C55B';
const LEGACY_ID = 'escrow.key';

const token = (version = 1): SecretBinding => ({ kind: 'bootstrap-token', udid: UDID, version });

function ringOf(active: string, keys: Record<string, Buffer>): KeyRing {
  return new KeyRing(active, new Map(Object.entries(keys)));
}

function flipped(bytes: Buffer, index = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = copy[index]! ^ 0x01;

  return copy;
}

describe('KeyRing', () => {
  it('refuses a key that is not 32 bytes, naming the key', () => {
    expect(() => ringOf('a', { a: randomBytes(32), b: randomBytes(16) })).toThrow(EscrowKeyError);
    expect(() => ringOf('a', { a: Buffer.alloc(0) })).toThrow(
      /escrow key a must be 32 bytes, got 0/,
    );
  });

  it('refuses an active key it does not hold', () => {
    expect(() => ringOf('c', { a: randomBytes(32) })).toThrow(KeyRingError);
  });

  it('names the missing key and what it was needed for', () => {
    expect(() => ringOf('a', { a: randomBytes(32) }).keyOf('gone', 'a row')).toThrow(
      new KeyNotInRingError('gone', 'a row'),
    );
  });

  it('holds a copy, so later changes to the configured keys do not reach it', () => {
    const key = randomBytes(32);
    const original = Buffer.from(key);
    const ring = ringOf('a', { a: key });
    key.fill(0);

    expect(ring.activeKey).toEqual(original);
  });

  it('holds a key named __proto__ like any other', () => {
    const key = randomBytes(32);

    expect(new KeyRing('__proto__', new Map([['__proto__', key]])).activeKey).toEqual(key);
  });
});

describe('SecretSealer', () => {
  const kek = randomBytes(32);
  const ring = ringOf('k1', { k1: kek });
  const sealer = new SecretSealer(ring, LEGACY_ID);
  const secret = randomBytes(32);
  let sealed: EnvelopeSeal;
  let fingerprint: Buffer;

  beforeEach(() => {
    ({ sealed, fingerprint } = sealer.seal(token(), secret));
  });

  it('opens what it sealed, byte for byte', () => {
    expect(sealer.open(token(), sealed)).toEqual(secret);
  });

  it('round-trips a secret of any length, including one byte', () => {
    const tiny = Buffer.from([0x2a]);
    const large = randomBytes(4096);

    expect(sealer.open(token(2), sealer.seal(token(2), tiny).sealed)).toEqual(tiny);
    expect(sealer.open(token(3), sealer.seal(token(3), large).sealed)).toEqual(large);
  });

  it('wraps a fresh data key under the active key, recorded by id', () => {
    const again = sealer.seal(token(), secret).sealed;

    expect(sealed.keyId).toBe('k1');
    expect(sealed.wrappedKey).toHaveLength(12 + 32 + 16);
    expect(sealed.iv).toHaveLength(12);
    expect(sealed.authTag).toHaveLength(16);
    expect(again.wrappedKey.equals(sealed.wrappedKey)).toBe(false);
    expect(again.iv.equals(sealed.iv)).toBe(false);
    expect(again.ciphertext.equals(sealed.ciphertext)).toBe(false);
  });

  it('does not contain the secret or the key in any sealed part', () => {
    const parts = Buffer.concat([
      sealed.wrappedKey,
      sealed.iv,
      sealed.ciphertext,
      sealed.authTag,
      fingerprint,
    ]);

    expect(parts.includes(secret)).toBe(false);
    expect(parts.includes(kek)).toBe(false);
  });

  it('refuses to open under a ring whose key of that id is another', () => {
    const stranger = new SecretSealer(ringOf('k1', { k1: randomBytes(32) }), LEGACY_ID);

    expect(() => stranger.open(token(), sealed)).toThrow(SealBrokenError);
  });

  it('says which key is missing when the ring no longer holds it', () => {
    const without = new SecretSealer(ringOf('k2', { k2: randomBytes(32) }), LEGACY_ID);

    expect(() => without.open(token(), sealed)).toThrow(KeyNotInRingError);
    expect(() => without.open(token(), sealed)).toThrow(
      /escrow key k1, which wraps bootstrap token of/,
    );
  });

  it.each<[string, SecretBinding]>([
    ['another device', { kind: 'bootstrap-token', udid: OTHER_UDID, version: 1 }],
    ['another version', { kind: 'bootstrap-token', udid: UDID, version: 2 }],
    ['another kind of secret', { kind: 'activation-lock-bypass-code', udid: UDID, version: 1 }],
  ])('refuses to open as %s', (_case, binding) => {
    expect(() => sealer.open(binding, sealed)).toThrow(SealBrokenError);
  });

  it('binds the wrapped key to its row and its key id', () => {
    expect(() => unwrapDataKey(kek, 'k1', token(2), sealed.wrappedKey)).toThrow(SealBrokenError);
    expect(() => unwrapDataKey(kek, 'k0', token(), sealed.wrappedKey)).toThrow(SealBrokenError);
    expect(unwrapDataKey(kek, 'k1', token(), sealed.wrappedKey)).toHaveLength(32);
  });

  it('binds the ciphertext to its row even when the data key is rewrapped for another one', () => {
    // An attacker holding the KEK could give the data key a valid wrapping for another row; the
    // secret's own AAD still refuses to open there.
    const dataKey = unwrapDataKey(kek, 'k1', token(), sealed.wrappedKey);
    const elsewhere: SecretBinding = { kind: 'bootstrap-token', udid: OTHER_UDID, version: 1 };
    const moved: EnvelopeSeal = {
      ...sealed,
      wrappedKey: wrapDataKey(kek, 'k1', elsewhere, dataKey),
    };

    expect(() => sealer.open(elsewhere, moved)).toThrow(SealBrokenError);
    const asCode: SecretBinding = { ...token(), kind: 'activation-lock-bypass-code' };
    const relabelled: EnvelopeSeal = {
      ...sealed,
      wrappedKey: wrapDataKey(kek, 'k1', asCode, dataKey),
    };
    expect(() => sealer.open(asCode, relabelled)).toThrow(SealBrokenError);
  });

  it('refuses a ciphertext swapped in from another row, and a wrapped key from another row', () => {
    const other = sealer.seal(
      { kind: 'bootstrap-token', udid: OTHER_UDID, version: 1 },
      randomBytes(32),
    ).sealed;

    expect(() =>
      sealer.open(token(), {
        ...sealed,
        iv: other.iv,
        ciphertext: other.ciphertext,
        authTag: other.authTag,
      }),
    ).toThrow(SealBrokenError);
    expect(() => sealer.open(token(), { ...sealed, wrappedKey: other.wrappedKey })).toThrow(
      SealBrokenError,
    );
    expect(() => sealer.open(token(), { ...other })).toThrow(SealBrokenError);
  });

  it.each([
    ['ciphertext', (s: EnvelopeSeal) => ({ ...s, ciphertext: flipped(s.ciphertext, 7) })],
    ['authentication tag', (s: EnvelopeSeal) => ({ ...s, authTag: flipped(s.authTag) })],
    ['IV', (s: EnvelopeSeal) => ({ ...s, iv: flipped(s.iv) })],
    ['wrapped key', (s: EnvelopeSeal) => ({ ...s, wrappedKey: flipped(s.wrappedKey, 20) })],
    [
      'truncated wrapped key',
      (s: EnvelopeSeal) => ({ ...s, wrappedKey: s.wrappedKey.subarray(1) }),
    ],
    ['truncated tag', (s: EnvelopeSeal) => ({ ...s, authTag: s.authTag.subarray(0, 4) })],
    ['truncated ciphertext', (s: EnvelopeSeal) => ({ ...s, ciphertext: s.ciphertext.subarray(1) })],
  ])('refuses to open after the %s is tampered with', (_part, tamper) => {
    expect(() => sealer.open(token(), tamper(sealed))).toThrow(SealBrokenError);
  });

  it('names the row but never the secret in its error', () => {
    let caught: unknown;
    try {
      sealer.open({ ...token(), udid: OTHER_UDID }, sealed);
    } catch (error) {
      caught = error;
    }

    expect(caught).toMatchObject({ code: 'ESCROW.SEAL_BROKEN' });
    const text = `${String(caught)} ${JSON.stringify(caught)}`;
    expect(text).toContain(OTHER_UDID);
    expect(text).not.toContain(secret.toString('base64'));
    expect(text).not.toContain(secret.toString('hex'));
  });

  describe('holds', () => {
    it('recognises the sealed secret sent again, and nothing else', () => {
      const stored = { sealed, fingerprint };

      expect(sealer.holds(token(), stored, Buffer.from(secret))).toBe(true);
      expect(sealer.holds(token(), stored, randomBytes(32))).toBe(false);
      expect(sealer.holds(token(), stored, secret.subarray(1))).toBe(false);
    });

    it('keys the fingerprint per row: equal secrets on two rows fingerprint differently', () => {
      const twin = sealer.seal(token(2), secret);

      expect(twin.fingerprint.equals(fingerprint)).toBe(false);
    });

    it('fails rather than guesses when the stored data key does not open', () => {
      expect(() =>
        sealer.holds({ ...token(), udid: OTHER_UDID }, { sealed, fingerprint }, secret),
      ).toThrow(SealBrokenError);
    });
  });

  describe('rewrap', () => {
    const next = randomBytes(32);
    const rotated = new SecretSealer(ringOf('k2', { k1: kek, k2: next }), LEGACY_ID);

    it('moves the data key under the active key and leaves the secret untouched', () => {
      const moved = rotated.rewrap(token(), sealed)!;

      expect(moved.sealed.keyId).toBe('k2');
      expect(moved.fingerprint).toBeUndefined();
      expect(moved.sealed.ciphertext).toEqual(sealed.ciphertext);
      expect(moved.sealed.iv).toEqual(sealed.iv);
      expect(moved.sealed.authTag).toEqual(sealed.authTag);
      expect(unwrapDataKey(next, 'k2', token(), moved.sealed.wrappedKey)).toEqual(
        unwrapDataKey(kek, 'k1', token(), sealed.wrappedKey),
      );
    });

    it('leaves what is already under the active key alone', () => {
      expect(sealer.rewrap(token(), sealed)).toBeNull();
    });

    it('keeps the fingerprint valid once the old key has left the ring', () => {
      const moved = rotated.rewrap(token(), sealed)!;
      const after = new SecretSealer(ringOf('k2', { k2: next }), LEGACY_ID);

      expect(after.open(token(), moved.sealed)).toEqual(secret);
      expect(after.holds(token(), { sealed: moved.sealed, fingerprint }, secret)).toBe(true);
    });
  });

  describe('rows sealed before the key ring', () => {
    const legacyKey = randomBytes(32);
    const adopted = new SecretSealer(ringOf(LEGACY_ID, { [LEGACY_ID]: legacyKey }), LEGACY_ID);
    const old = legacySeal(legacyKey, UDID, 4, secret);

    it('opens them under the adopted key and recognises their token sent again', () => {
      expect(adopted.open(token(4), old.sealed)).toEqual(secret);
      expect(adopted.holds(token(4), old, secret)).toBe(true);
      expect(adopted.holds(token(4), old, randomBytes(32))).toBe(false);
    });

    it('keeps their binding to device and version', () => {
      expect(() => adopted.open(token(5), old.sealed)).toThrow(SealBrokenError);
      expect(() => adopted.open({ ...token(4), udid: OTHER_UDID }, old.sealed)).toThrow(
        SealBrokenError,
      );
      expect(() =>
        adopted.open({ ...token(4), kind: 'activation-lock-bypass-code' }, old.sealed),
      ).toThrow(SealBrokenError);
    });

    it('gives them a data key of their own on rewrap, even under the same key', () => {
      const moved = adopted.rewrap(token(4), old.sealed)!;
      const sealedNow: SealedSecret = moved.sealed;

      expect(moved.sealed).toMatchObject({ scheme: 'envelope', keyId: LEGACY_ID });
      expect(adopted.open(token(4), sealedNow)).toEqual(secret);
      expect(
        adopted.holds(token(4), { sealed: sealedNow, fingerprint: moved.fingerprint! }, secret),
      ).toBe(true);
    });

    it('needs the adopted key, and says so when it is gone', () => {
      const without = new SecretSealer(ringOf('k2', { k2: randomBytes(32) }), LEGACY_ID);

      expect(() => without.open(token(4), old.sealed)).toThrow(/escrow key escrow.key/);
    });
  });
});
