/** The escrow key is not usable for AES-256-GCM; the service refuses to boot with it. */
export class EscrowKeyError extends Error {
  readonly code = 'ESCROW.KEY_INVALID';

  constructor(expected: number, actual: number) {
    super(`escrow key must be ${expected} bytes, got ${actual}`);
  }
}

/**
 * A sealed token failed authentication: wrong key, a row moved to another device or version, or
 * tampered bytes. The message names the row, never its content.
 */
export class SealBrokenError extends Error {
  readonly code = 'ESCROW.SEAL_BROKEN';

  constructor(udid: string, version: number, options?: { cause?: unknown }) {
    super(`sealed bootstrap token of ${udid} version ${version} does not open`, options);
  }
}

/** The envelope's subject and the UDID in its data disagree; nothing is stored or read. */
export class SubjectMismatchError extends Error {
  readonly code = 'ESCROW.SUBJECT_MISMATCH';

  constructor(subject: string, udid: string) {
    super(`envelope subject ${subject} does not match udid ${udid}`);
  }
}
