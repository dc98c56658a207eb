/**
 * Stable codes of every error this library throws. The first six come from checking a device's
 * request (or, for `IDENTITY.SCEP_MESSAGE_INVALID`, a SCEP message of either side) and are
 * answered with HTTP 400 (never 401, which makes a device drop its enrollment);
 * `IDENTITY.MATERIAL_INVALID` means our own certificates, keys or PKCS#12 files are unusable.
 */
export const IDENTITY_ERROR_CODES = [
  'IDENTITY.SIGNATURE_MISSING',
  'IDENTITY.SIGNATURE_MALFORMED',
  'IDENTITY.SIGNATURE_INVALID',
  'IDENTITY.CERTIFICATE_UNTRUSTED',
  'IDENTITY.CERTIFICATE_EXPIRED',
  'IDENTITY.SCEP_MESSAGE_INVALID',
  'IDENTITY.MATERIAL_INVALID',
] as const;

export type IdentityErrorCode = (typeof IDENTITY_ERROR_CODES)[number];

/** The one error class of `@turnaround/identity`; switch on `code`, show `message` to people. */
export class IdentityError extends Error {
  readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityError';
    this.code = code;
  }
}
