import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

import { EscrowKeyError, SealBrokenError } from './escrow.errors.js';

const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
// 96 bits is the IV length GCM is specified for; any other length is hashed into one first.
const IV_BYTES = 12;
// Without an explicit tag length Node accepts tags down to 4 bytes, which makes forgery cheap.
const TAG_BYTES = 16;
// Part of every row's AAD: changing what is bound is a new label, or old rows stop opening.
const AAD_LABEL = 'turnaround.escrow.bootstrap-token.v1';
const FINGERPRINT_INFO = 'turnaround.escrow.bootstrap-token.fingerprint.v1';

/** What a sealed token is bound to: opening it under any other device or version fails. */
export interface TokenBinding {
  udid: string;
  version: number;
}

/** The three parts of an AES-256-GCM seal; none of them reveals the token. */
export interface SealedToken {
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

/**
 * Seals and opens bootstrap tokens under the escrow key, and computes the keyed fingerprint that
 * tells whether a device sent the same token again without opening the stored one.
 */
export class TokenSealer {
  private readonly fingerprintKey: Buffer;

  // TODO(#3): one static key; becomes envelope encryption (a data key per version, wrapped by a
  // key ring with rotation) when #3 lands, and the key id joins the sealed row.
  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) {
      throw new EscrowKeyError(KEY_BYTES, key.length);
    }
    this.fingerprintKey = Buffer.from(
      hkdfSync('sha256', key, Buffer.alloc(0), FINGERPRINT_INFO, KEY_BYTES),
    );
  }

  seal(binding: TokenBinding, token: Buffer): SealedToken {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(binding));
    const ciphertext = Buffer.concat([cipher.update(token), cipher.final()]);

    return { iv, ciphertext, authTag: cipher.getAuthTag() };
  }

  /** Returns the clear token; the caller owns the buffer and should zero it when done. */
  open(binding: TokenBinding, sealed: SealedToken): Buffer {
    if (sealed.iv.length !== IV_BYTES || sealed.authTag.length !== TAG_BYTES) {
      throw new SealBrokenError(binding.udid, binding.version);
    }
    try {
      const decipher = createDecipheriv(CIPHER, this.key, sealed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(binding));
      decipher.setAuthTag(sealed.authTag);

      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
    } catch (error) {
      throw new SealBrokenError(binding.udid, binding.version, { cause: error });
    }
  }

  /**
   * HMAC of the token under a key derived from the escrow key, bound to the device so equal
   * tokens on two devices do not show as equal rows.
   */
  fingerprint(udid: string, token: Buffer): Buffer {
    const name = Buffer.from(udid, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(name.length);

    return createHmac('sha256', this.fingerprintKey)
      .update(length)
      .update(name)
      .update(token)
      .digest();
  }
}

/** Constant-time comparison of two fingerprints. */
export function sameFingerprint(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function additionalData(binding: TokenBinding): Buffer {
  return Buffer.from(JSON.stringify([AAD_LABEL, binding.udid, binding.version]), 'utf8');
}
