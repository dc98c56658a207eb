/**
 * Stable codes of every error `@turnaround/protocol` throws.
 *
 * HTTP mapping (done by the transports, not here): `PLIST.TOO_LARGE` is 413; every other code that
 * comes from reading a device's body is 400. `*.INVALID_ARGUMENT` and `PLIST.UNENCODABLE` are our
 * own programming or configuration mistakes (500 if they ever reach a device-facing handler).
 * `ADE.MALFORMED` is about Apple's Device Assignment service answers (or our own ADE profile
 * definitions), never a device's body: a failed call to Apple, not a 400.
 */
export const PLIST_ERROR_CODES = [
  'PLIST.TOO_LARGE',
  'PLIST.TOO_DEEP',
  'PLIST.TOO_MANY_OBJECTS',
  'PLIST.MALFORMED',
  'PLIST.FORBIDDEN_DTD',
  'PLIST.FORBIDDEN_KEY',
  'PLIST.UNSUPPORTED_FORMAT',
  'PLIST.UNENCODABLE',
] as const;

export const PROTOCOL_ERROR_CODES = [
  ...PLIST_ERROR_CODES,
  'CHECKIN.MALFORMED',
  'CHECKIN.UNKNOWN_MESSAGE_TYPE',
  'CHECKIN.MISSING_IDENTIFIER',
  'CHANNEL.MISSING_IDENTIFIER',
  'REPORT.MALFORMED',
  'REPORT.UNKNOWN_STATUS',
  'REPORT.MISSING_IDENTIFIER',
  'COMMAND.MALFORMED',
  'COMMAND.INVALID_ARGUMENT',
  'PROFILE.MALFORMED',
  'PROFILE.MISSING_PAYLOAD',
  'PROFILE.UNSUPPORTED_IDENTITY',
  'PROFILE.INVALID_ARGUMENT',
  'ADE.MALFORMED',
  'MACHINE_INFO.MALFORMED',
  'DDM.MALFORMED',
] as const;

export type PlistErrorCode = (typeof PLIST_ERROR_CODES)[number];
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/** The base error of this library; switch on `code`, show `message` to people. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/** Raised by the plist codec; a `ProtocolError` whose code is always one of `PLIST.*`. */
export class PlistError extends ProtocolError {
  declare readonly code: PlistErrorCode;

  constructor(code: PlistErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PlistError';
  }
}

/** True when `error` is one of ours (either class), whatever the code. */
export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}
