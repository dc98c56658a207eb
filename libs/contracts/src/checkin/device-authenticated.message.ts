import { defineEvent } from '../envelope.js';
import { nonEmptyString, object, optional, string } from '../schema.js';

/** An Authenticate check-in bound a (new) identity certificate to a device. Not yet enrolled. */
export const DeviceAuthenticated = defineEvent(
  'DeviceAuthenticated',
  'checkin.device.authenticated.v1',
  'checkin',
  object({
    udid: nonEmptyString(),
    certificateFingerprint: nonEmptyString(),
    serialNumber: optional(string()),
    productName: optional(string()),
    osVersion: optional(string()),
    buildVersion: optional(string()),
  }),
);
