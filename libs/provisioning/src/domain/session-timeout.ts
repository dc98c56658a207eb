import { buildSettings, type Command } from '@turnaround/protocol';

import { ProvisioningError } from './provisioning.errors.js';

/** Apple's minimum for `TemporarySessionTimeout`, in seconds (mdm/commands/settings.yaml). */
export const TEMPORARY_SESSION_TIMEOUT_MINIMUM = 30;

/**
 * Our maximum, in seconds: one day. Apple sets none. The idle timeout exists to hand a shared
 * device back to service between two users; a device idle for a day has no session left to end.
 * The bound also catches the usual unit mistake: 15 minutes typed in milliseconds (900000) is
 * refused instead of becoming a ten-day timeout.
 */
export const TEMPORARY_SESSION_TIMEOUT_MAXIMUM = 86_400;

const DIGITS = /^-?\d+$/;

// A whole number given as a JSON number or as a string of decimal digits (admin tools send ids
// and counts as strings, B03 e). Anything else — "42a", "4.2", "1e3", " 42", 4.2, NaN — is not.
function parseWholeNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' && DIGITS.test(value) ? Number(value) : value;

  // + 0 turns -0 into 0, which the plist writer would otherwise emit as a <real>.
  return typeof number === 'number' && Number.isSafeInteger(number) ? number + 0 : undefined;
}

/**
 * Reads a non-negative integer from admin API input: `42` and `"42"` give 42; `"42a"`, `4.2`,
 * `-1`, `""`, `true` and unsafe integers are refused with `CONFIGURATION.INVALID` naming `field`.
 */
export function readIntegerInput(value: unknown, field: string): number {
  const number = parseWholeNumber(value);

  if (number === undefined || number < 0) {
    throw new ProvisioningError(
      'CONFIGURATION.INVALID',
      `${field} must be a whole number of 0 or more, as a number (42) or a string of digits ("42")`,
    );
  }

  return number;
}

function checkTimeout(seconds: number | undefined, field: string): number {
  if (seconds === undefined) {
    throw new ProvisioningError(
      'CONFIGURATION.INVALID',
      `${field} must be a whole number of seconds (0 turns the idle timeout off)`,
    );
  }
  if (seconds < 0 || (seconds > 0 && seconds < TEMPORARY_SESSION_TIMEOUT_MINIMUM)) {
    throw new ProvisioningError(
      'CONFIGURATION.INVALID',
      `${field} must be 0 (no idle timeout) or at least ` +
        `${TEMPORARY_SESSION_TIMEOUT_MINIMUM} seconds, Apple's minimum`,
    );
  }
  if (seconds > TEMPORARY_SESSION_TIMEOUT_MAXIMUM) {
    throw new ProvisioningError(
      'CONFIGURATION.INVALID',
      `${field} must be at most ${TEMPORARY_SESSION_TIMEOUT_MAXIMUM} seconds (one day); ` +
        'the value is in seconds, not milliseconds',
    );
  }

  return seconds;
}

/**
 * Reads the Return to Service idle timeout of a configuration from admin API input (B07).
 *
 * - `null`/`undefined`: not managed (`null`); the server sends no Settings for it.
 * - `0`: kept as 0; sent, it removes the device's timeout, so no idle-triggered RTS.
 * - 30 to 86400 seconds, as a number or a string of digits.
 *
 * Anything else (negative, 1–29, above a day, fractions, other text) throws
 * `CONFIGURATION.INVALID` with a message naming the bounds.
 */
export function readTemporarySessionTimeout(
  value: unknown,
  field = 'temporarySessionTimeout',
): number | null {
  if (value === undefined || value === null) return null;

  return checkTimeout(parseWholeNumber(value), field);
}

/**
 * The Settings command that sets `SharedDeviceConfiguration.TemporarySessionTimeout` (seconds,
 * written as `<integer>`; 0 removes the timeout). Apple takes it on visionOS 26 (supervised) and
 * on Shared iPad (iOS 14.5); on visionOS its expiry makes the device send the `ReturnToService`
 * check-in. Throws `CONFIGURATION.INVALID` for a value {@link readTemporarySessionTimeout} refuses.
 */
export function buildSessionTimeoutSettings(seconds: number): Command {
  const timeout = checkTimeout(
    typeof seconds === 'number' ? parseWholeNumber(seconds) : undefined,
    'temporarySessionTimeout',
  );

  return buildSettings([{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: timeout }]);
}
