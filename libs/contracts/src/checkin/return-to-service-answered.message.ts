import { defineEvent } from '../envelope.js';
import { boolean, nonEmptyString, object, optional } from '../schema.js';

/**
 * The device asked for Return to Service itself (the ReturnToService check-in, user or idle
 * trigger) and has been answered. With `enabled` it erases now, so its cycle moves on as if an
 * erase had been acknowledged. `bootstrapTokenIncluded` says whether apps can be kept.
 */
export const ReturnToServiceAnswered = defineEvent(
  'ReturnToServiceAnswered',
  'checkin.device.return-to-service-answered.v1',
  'checkin',
  object({
    udid: nonEmptyString(),
    enrollmentId: nonEmptyString(),
    enabled: boolean(),
    cycleId: optional(nonEmptyString()),
    bootstrapTokenIncluded: boolean(),
  }),
);
