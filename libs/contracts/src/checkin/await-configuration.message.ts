import { defineEvent } from '../envelope.js';
import { nonEmptyString, object } from '../schema.js';

/** The device sits in Setup Assistant until it receives DeviceConfigured. */
export const AwaitConfiguration = defineEvent(
  'AwaitConfiguration',
  'checkin.device.awaiting-configuration.v1',
  'checkin',
  object({ udid: nonEmptyString(), enrollmentId: nonEmptyString() }),
);
