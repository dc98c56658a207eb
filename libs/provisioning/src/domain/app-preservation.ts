import { compareOsVersions } from './os-policy.js';

/** Where Apple offers Return to Service with app preservation, and from which OS version. */
export const APP_PRESERVATION_MINIMUM_OS: Record<string, string | undefined> = {
  ios: '26.0',
  ipados: '26.0',
  visionos: '26.0',
};

export interface PreservationFacts {
  platform: string;
  osVersion: string | null;
  enrolledViaAde: boolean | null;
}

/**
 * Why this device cannot keep its apps through Return to Service, or null when it can (as far as
 * the device's facts go; the bootstrap token is checked separately). Apple offers app preservation
 * only to devices enrolled through Automated Device Enrollment on iOS, iPadOS and visionOS 26 or
 * later; tvOS has standard RTS only. An unknown fact counts against: a cycle that promises to keep
 * apps and then wipes them is worse than one that says up front it will not.
 */
export function preservationBlocker(device: PreservationFacts): string | null {
  const minimum = APP_PRESERVATION_MINIMUM_OS[device.platform];
  if (!minimum) {
    return `${device.platform === 'tvos' ? 'tvOS' : device.platform} has standard Return to Service only`;
  }
  const comparison = device.osVersion ? compareOsVersions(device.osVersion, minimum) : null;
  if (comparison === null) {
    return `the device's OS version is not known yet (app preservation needs ${minimum} or later)`;
  }
  if (comparison < 0) {
    return `app preservation needs ${device.platform} ${minimum} or later; the device runs ${device.osVersion}`;
  }
  if (device.enrolledViaAde !== true) {
    return device.enrolledViaAde === false
      ? 'the device was not enrolled through Automated Device Enrollment'
      : 'whether the device was enrolled through Automated Device Enrollment is not known yet';
  }

  return null;
}

/**
 * The ReturnToService check-in does not say whether a person or the idle timeout started it. With
 * an idle timeout in force, a check-in that comes at least that long after the device went into
 * service is taken as the idle trigger; anything sooner must have been a person. A person who
 * starts RTS later than the timeout is recorded as idle: the protocol gives no way to tell.
 */
export function inferDeviceTrigger(timeoutSeconds: number | null, inServiceSince: Date | null, now: Date): 'user' | 'idle' {
  if (!timeoutSeconds || !inServiceSince) {
    return 'user';
  }
  // A second of slack for clocks and the request's own travel time.
  return now.getTime() - inServiceSince.getTime() >= timeoutSeconds * 1000 - 1000 ? 'idle' : 'user';
}
