/**
 * What a TokenUpdate on the device channel means for the enrollment, given what we know.
 *
 * - The identity already completed an enrollment: a repeated TokenUpdate (new push token) for it.
 * - No enrollment yet for the device: a first enrollment.
 * - `AwaitingConfiguration` true: the device is in Setup Assistant, which only happens after an
 *   erase or a first set-up, so it is a fresh enrollment whatever we knew before (B06).
 * - Otherwise a new identity joining the current enrollment: a certificate renewal, which keeps
 *   the enrollment and its queue (B05's control case).
 */
export type TokenUpdateMeaning = 'repeat' | 'fresh' | 'renewal';

export function meaningOfTokenUpdate(input: {
  identityEnrollmentId: string | null;
  currentEnrollmentId: string | null;
  awaitingConfiguration: boolean;
}): TokenUpdateMeaning {
  if (input.identityEnrollmentId !== null) {
    return 'repeat';
  }
  if (input.currentEnrollmentId === null || input.awaitingConfiguration) {
    return 'fresh';
  }

  return 'renewal';
}

/** Apple's product names say the platform; the OS version alone cannot tell iPhone from iPad. */
export function platformOf(productName: string | null | undefined): 'ios' | 'ipados' | 'tvos' | 'visionos' | 'macos' | 'watchos' | 'unknown' {
  if (!productName) {
    return 'unknown';
  }
  if (productName.startsWith('iPhone') || productName.startsWith('iPod')) {
    return 'ios';
  }
  if (productName.startsWith('iPad')) {
    return 'ipados';
  }
  if (productName.startsWith('AppleTV')) {
    return 'tvos';
  }
  if (productName.startsWith('RealityDevice')) {
    return 'visionos';
  }
  if (productName.startsWith('Watch')) {
    return 'watchos';
  }
  if (/^(Mac|iMac|MacBook)/.test(productName)) {
    return 'macos';
  }

  return 'unknown';
}
