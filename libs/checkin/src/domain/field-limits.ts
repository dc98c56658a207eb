/**
 * How long each device-supplied text may be, matching the columns that keep it. A device never
 * sends more (UDIDs are 25 to 40 characters, versions a handful), so anything longer, or any
 * control character, is a malformed check-in: refused with a 400 naming the key instead of failing
 * in the database.
 */
const LIMITS: Readonly<Record<string, number>> = {
  udid: 64,
  enrollmentId: 64,
  serialNumber: 64,
  productName: 64,
  osVersion: 32,
  buildVersion: 32,
  imei: 64,
  meid: 64,
  deviceName: 255,
  model: 64,
  modelName: 255,
  topic: 255,
  pushMagic: 255,
  userId: 255,
  userShortName: 255,
  userLongName: 255,
  enrollmentUserId: 255,
  endpoint: 255,
};

const CONTROL = /[\u0000-\u001f\u007f]/;

export class UnstorableFieldError extends Error {
  readonly code = 'CHECKIN.MALFORMED';
}

/** Throws for the first known text field that is too long or holds a control character. */
export function checkFieldLimits(message: object): void {
  for (const [key, value] of Object.entries(message)) {
    const limit = LIMITS[key];
    if (limit === undefined || typeof value !== 'string') {
      continue;
    }
    if (value.length > limit) {
      throw new UnstorableFieldError(`${key} is ${value.length} characters; at most ${limit} are accepted`);
    }
    if (CONTROL.test(value)) {
      throw new UnstorableFieldError(`${key} contains a control character`);
    }
  }
}
