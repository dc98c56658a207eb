import { defineEvent } from '../envelope.js';
import { nonEmptyString, object } from '../schema.js';

export const DeviceCheckedOut = defineEvent(
  'DeviceCheckedOut',
  'checkin.device.checked-out.v1',
  'checkin',
  object({ udid: nonEmptyString(), enrollmentId: nonEmptyString() }),
);
