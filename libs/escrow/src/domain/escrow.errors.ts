/** A key of the ring is not usable for AES-256-GCM; the service refuses to boot with it. */
export class EscrowKeyError extends Error {
  readonly code = 'ESCROW.KEY_INVALID';

  constructor(expected: number, actual: number, keyId?: string) {
    super(
      `escrow key${keyId === undefined ? '' : ` ${keyId}`} must be ${expected} bytes, got ${actual}`,
    );
  }
}

/** The ring names no usable active key; the service refuses to boot with it. */
export class KeyRingError extends Error {
  readonly code = 'ESCROW.KEY_RING_INVALID';
}

/**
 * A row's data key is wrapped under a key the ring no longer holds: it was removed before
 * RewrapEscrowKeys moved every row off it. Putting the key back into the ring recovers the row.
 */
export class KeyNotInRingError extends Error {
  readonly code = 'ESCROW.KEY_NOT_IN_RING';

  constructor(keyId: string, subject: string) {
    super(`escrow key ${keyId}, which wraps ${subject}, is not in the key ring`);
  }
}

/**
 * A sealed secret failed authentication: wrong key, a row moved to another device, version or
 * kind of secret, or tampered bytes. The message names the row, never its content.
 */
export class SealBrokenError extends Error {
  readonly code = 'ESCROW.SEAL_BROKEN';

  constructor(subject: string, options?: { cause?: unknown }) {
    super(`sealed ${subject} does not open`, options);
  }
}

/** The envelope's subject and the UDID in its data disagree; nothing is stored or read. */
export class SubjectMismatchError extends Error {
  readonly code = 'ESCROW.SUBJECT_MISMATCH';

  constructor(subject: string, udid: string) {
    super(`envelope subject ${subject} does not match udid ${udid}`);
  }
}

/** The client certificate or key for Apple's unlock endpoint cannot be used. */
export class UnlockCredentialsError extends Error {
  readonly code = 'ESCROW.UNLOCK_CREDENTIALS_INVALID';
}
