import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

import { SealBrokenError } from './escrow.errors.js';
import { KEY_BYTES, KeyRing } from './key-ring.js';

const CIPHER = 'aes-256-gcm';
// 96 bits is the IV length GCM is specified for; any other length is hashed into one first.
const IV_BYTES = 12;
// Without an explicit tag length Node accepts tags down to 4 bytes, which makes forgery cheap.
const TAG_BYTES = 16;
const WRAPPED_KEY_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;
// Part of every AAD: changing what is bound is a new label, or stored rows stop opening.
const LABEL = 'turnaround.escrow.v2';
// What rows sealed before the key ring were bound to; read-only, RewrapEscrowKeys moves them on.
const LEGACY_AAD_LABEL = 'turnaround.escrow.bootstrap-token.v1';
const LEGACY_FINGERPRINT_INFO = 'turnaround.escrow.bootstrap-token.fingerprint.v1';

/** The secrets escrow keeps. The kind is bound into every seal, so one never opens as another. */
export type SecretKind = 'bootstrap-token' | 'activation-lock-bypass-code';

export const SECRET_KINDS: readonly SecretKind[] = [
  'bootstrap-token',
  'activation-lock-bypass-code',
];

/** What a seal is bound to: opening it as any other device, version or kind fails. */
export interface SecretBinding {
  kind: SecretKind;
  udid: string;
  version: number;
}

/** The three parts of an AES-256-GCM seal; none of them reveals what was sealed. */
export interface GcmParts {
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

/**
 * Envelope encryption: the secret under a data key of its own, the data key wrapped
 * (`iv | ciphertext | tag`) under the key-encryption key `keyId` of the ring.
 */
export interface EnvelopeSeal extends GcmParts {
  scheme: 'envelope';
  keyId: string;
  wrappedKey: Buffer;
}

/** A bootstrap token sealed before the key ring: directly under the adopted single key. */
export interface LegacySeal extends GcmParts {
  scheme: 'legacy';
}

export type SealedSecret = EnvelopeSeal | LegacySeal;

/** A seal and the fingerprint that recognises its secret when it is sent again. */
export interface Sealing {
  sealed: EnvelopeSeal;
  fingerprint: Buffer;
}

/** What RewrapEscrowKeys writes back; a fingerprint only when it had to change (legacy rows). */
export interface Rewrapped {
  sealed: EnvelopeSeal;
  fingerprint?: Buffer;
}

/**
 * Seals and opens escrowed secrets with envelope encryption under the key ring, and tells whether
 * a secret sent again is the one stored without decrypting the stored one.
 *
 * Fingerprints are HMACs under a key derived from the row's own data key. Re-wrapping changes
 * only how the data key is wrapped, never the data key, so a fingerprint stays valid through any
 * number of rotations, and once a retired KEK leaves the ring nothing about old rows depends on it.
 * A fingerprint key derived from the KEK would change with every rotation (so every row's
 * fingerprint would have to be recomputed, opening every secret), and a separate fingerprint
 * secret in the ring would be one more key that can never rotate. Without the KEK the data key,
 * and so the fingerprint key, stays out of reach: a stolen database cannot test guesses.
 */
export class SecretSealer {
  constructor(
    private readonly ring: KeyRing,
    private readonly legacyKeyId: string,
  ) {}

  get activeKeyId(): string {
    return this.ring.activeKeyId;
  }

  seal(binding: SecretBinding, secret: Buffer): Sealing {
    const dataKey = randomBytes(KEY_BYTES);
    try {
      const keyId = this.ring.activeKeyId;
      const wrappedKey = wrapDataKey(this.ring.activeKey, keyId, binding, dataKey);
      const parts = encrypt(dataKey, secretAad(binding), secret);

      return {
        sealed: { scheme: 'envelope', keyId, wrappedKey, ...parts },
        fingerprint: fingerprintUnder(dataKey, binding.kind, secret),
      };
    } finally {
      dataKey.fill(0);
    }
  }

  /** Returns the clear secret; the caller owns the buffer and should zero it when done. */
  open(binding: SecretBinding, sealed: SealedSecret): Buffer {
    if (sealed.scheme === 'legacy') {
      return decrypt(this.legacyKey(binding), legacyAad(binding), sealed, binding);
    }
    const dataKey = this.unwrap(binding, sealed);
    try {
      return decrypt(dataKey, secretAad(binding), sealed, binding);
    } finally {
      dataKey.fill(0);
    }
  }

  /** Whether `secret` is the one sealed in `stored`; the stored secret itself is not decrypted. */
  holds(
    binding: SecretBinding,
    stored: { sealed: SealedSecret; fingerprint: Buffer },
    secret: Buffer,
  ): boolean {
    if (stored.sealed.scheme === 'legacy') {
      return sameFingerprint(
        stored.fingerprint,
        legacyFingerprint(this.legacyKey(binding), binding.udid, secret),
      );
    }
    const dataKey = this.unwrap(binding, stored.sealed);
    try {
      return sameFingerprint(stored.fingerprint, fingerprintUnder(dataKey, binding.kind, secret));
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Moves a seal under the active KEK: the data key is unwrapped and wrapped again, the secret is
   * not touched. A legacy seal has no data key, so its secret gets one (the only re-encryption).
   * Null when the seal is already under the active KEK.
   */
  rewrap(binding: SecretBinding, sealed: SealedSecret): Rewrapped | null {
    if (sealed.scheme === 'legacy') {
      const secret = this.open(binding, sealed);
      try {
        return this.seal(binding, secret);
      } finally {
        secret.fill(0);
      }
    }
    if (sealed.keyId === this.ring.activeKeyId) {
      return null;
    }
    const dataKey = this.unwrap(binding, sealed);
    try {
      const keyId = this.ring.activeKeyId;

      return {
        sealed: {
          ...sealed,
          keyId,
          wrappedKey: wrapDataKey(this.ring.activeKey, keyId, binding, dataKey),
        },
      };
    } finally {
      dataKey.fill(0);
    }
  }

  private unwrap(binding: SecretBinding, sealed: EnvelopeSeal): Buffer {
    return unwrapDataKey(
      this.ring.keyOf(sealed.keyId, describe(binding)),
      sealed.keyId,
      binding,
      sealed.wrappedKey,
    );
  }

  private legacyKey(binding: SecretBinding): Buffer {
    // Only bootstrap tokens were ever sealed the old way; anything else claiming it was moved.
    if (binding.kind !== 'bootstrap-token') {
      throw new SealBrokenError(describe(binding));
    }

    return this.ring.keyOf(this.legacyKeyId, describe(binding));
  }
}

/** Constant-time comparison of two fingerprints. */
export function sameFingerprint(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Wraps a data key under a KEK, bound to the row and to the KEK's id. */
export function wrapDataKey(
  kek: Buffer,
  keyId: string,
  binding: SecretBinding,
  dataKey: Buffer,
): Buffer {
  const parts = encrypt(kek, dataKeyAad(binding, keyId), dataKey);

  return Buffer.concat([parts.iv, parts.ciphertext, parts.authTag]);
}

/** Unwraps a data key; fails as a broken seal unless it was wrapped for exactly this row. */
export function unwrapDataKey(
  kek: Buffer,
  keyId: string,
  binding: SecretBinding,
  wrappedKey: Buffer,
): Buffer {
  if (wrappedKey.length !== WRAPPED_KEY_BYTES) {
    throw new SealBrokenError(describe(binding));
  }
  const parts = {
    iv: wrappedKey.subarray(0, IV_BYTES),
    ciphertext: wrappedKey.subarray(IV_BYTES, IV_BYTES + KEY_BYTES),
    authTag: wrappedKey.subarray(IV_BYTES + KEY_BYTES),
  };

  return decrypt(kek, dataKeyAad(binding, keyId), parts, binding);
}

function encrypt(key: Buffer, aad: Buffer, clear: Buffer): GcmParts {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(clear), cipher.final()]);

  return { iv, ciphertext, authTag: cipher.getAuthTag() };
}

function decrypt(key: Buffer, aad: Buffer, parts: GcmParts, binding: SecretBinding): Buffer {
  if (parts.iv.length !== IV_BYTES || parts.authTag.length !== TAG_BYTES) {
    throw new SealBrokenError(describe(binding));
  }
  try {
    const decipher = createDecipheriv(CIPHER, key, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(parts.authTag);

    return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch (error) {
    throw new SealBrokenError(describe(binding), { cause: error });
  }
}

function fingerprintUnder(dataKey: Buffer, kind: SecretKind, secret: Buffer): Buffer {
  const info = JSON.stringify([LABEL, 'fingerprint', kind]);
  const key = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), info, KEY_BYTES));
  try {
    return createHmac('sha256', key).update(secret).digest();
  } finally {
    key.fill(0);
  }
}

function legacyFingerprint(kek: Buffer, udid: string, token: Buffer): Buffer {
  const key = Buffer.from(
    hkdfSync('sha256', kek, Buffer.alloc(0), LEGACY_FINGERPRINT_INFO, KEY_BYTES),
  );
  const name = Buffer.from(udid, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  try {
    return createHmac('sha256', key).update(length).update(name).update(token).digest();
  } finally {
    key.fill(0);
  }
}

// JSON arrays keep the fields apart: no choice of UDID can make two bindings encode alike.
function secretAad(binding: SecretBinding): Buffer {
  return Buffer.from(
    JSON.stringify([LABEL, 'secret', binding.kind, binding.udid, binding.version]),
  );
}

function dataKeyAad(binding: SecretBinding, keyId: string): Buffer {
  return Buffer.from(
    JSON.stringify([LABEL, 'data-key', binding.kind, binding.udid, binding.version, keyId]),
  );
}

function legacyAad(binding: SecretBinding): Buffer {
  return Buffer.from(JSON.stringify([LEGACY_AAD_LABEL, binding.udid, binding.version]), 'utf8');
}

function describe(binding: SecretBinding): string {
  return `${binding.kind.replaceAll('-', ' ')} of ${binding.udid} version ${binding.version}`;
}
