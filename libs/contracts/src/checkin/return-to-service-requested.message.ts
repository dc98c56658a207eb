import { defineEvent } from '../envelope.js';
import { nonEmptyString, object, oneOf } from '../schema.js';

/** The device itself asked for Return to Service (user or idle trigger, iOS/visionOS 26). */
export const ReturnToServiceRequested = defineEvent(
  'ReturnToServiceRequested',
  'checkin.device.return-to-service-requested.v1',
  object({ udid: nonEmptyString(), enrollmentId: nonEmptyString(), trigger: oneOf('device') }),
);
