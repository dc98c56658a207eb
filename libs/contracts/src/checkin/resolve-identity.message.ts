import { defineRequest } from '../envelope.js';
import { boolean, nonEmptyString, object, optional, string } from '../schema.js';

/**
 * Which enrollment does this identity certificate belong to? The commands service asks when a
 * device it has not seen yet (or a renewed identity) opens a command session.
 */
export const ResolveIdentity = defineRequest(
  'ResolveIdentity',
  'checkin.identity.resolve.v1',
  'checkin',
  object({ certificateFingerprint: nonEmptyString() }),
  object({
    found: boolean(),
    udid: optional(string()),
    enrollmentId: optional(string()),
    userEnrollment: optional(boolean()),
  }),
);
