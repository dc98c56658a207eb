import { defineEvent } from '../envelope.js';
import { boolean, nonEmptyString, object, oneOf, optional, string } from '../schema.js';

export const PLATFORMS = ['ios', 'ipados', 'tvos', 'visionos', 'macos', 'watchos', 'unknown'] as const;

/**
 * A TokenUpdate completed an enrollment. `fresh` is true for a new enrollment (first ever, or
 * Setup Assistant again after an erase); false for a renewal that keeps the enrollment and its
 * queue. A fresh enrollment closes every command left from the previous one.
 */
export const DeviceEnrolled = defineEvent(
  'DeviceEnrolled',
  'checkin.device.enrolled.v1',
  'checkin',
  object({
    udid: nonEmptyString(),
    enrollmentId: nonEmptyString(),
    previousEnrollmentId: optional(string()),
    fresh: boolean(),
    awaitingConfiguration: boolean(),
    userEnrollment: boolean(),
    certificateFingerprint: nonEmptyString(),
    platform: oneOf(...PLATFORMS),
    serialNumber: optional(string()),
    productName: optional(string()),
    osVersion: optional(string()),
  }),
);
