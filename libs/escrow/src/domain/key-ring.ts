import { EscrowKeyError, KeyNotInRingError, KeyRingError } from './escrow.errors.js';

export const KEY_BYTES = 32;

/**
 * The key-encryption keys (KEKs) of the vault. The active one wraps every new data key; the
 * others only unwrap, until RewrapEscrowKeys has moved every row off them.
 */
export class KeyRing {
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(
    readonly activeKeyId: string,
    keys: ReadonlyMap<string, Buffer>,
  ) {
    for (const [id, key] of keys) {
      if (key.length !== KEY_BYTES) {
        throw new EscrowKeyError(KEY_BYTES, key.length, id);
      }
    }
    if (!keys.has(activeKeyId)) {
      throw new KeyRingError(`the active escrow key ${activeKeyId} is not in the key ring`);
    }
    // A copy, so the configuration object cannot change the ring behind the sealer's back.
    this.keys = new Map([...keys].map(([id, key]) => [id, Buffer.from(key)]));
  }

  get activeKey(): Buffer {
    return this.keyOf(this.activeKeyId, 'new data keys');
  }

  /** `subject` names what the key is needed for, in the error when it is gone. */
  keyOf(id: string, subject: string): Buffer {
    const key = this.keys.get(id);
    if (!key) {
      throw new KeyNotInRingError(id, subject);
    }

    return key;
  }
}
