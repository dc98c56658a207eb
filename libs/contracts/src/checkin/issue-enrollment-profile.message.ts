import { defineRequest } from '../envelope.js';
import { base64, nonEmptyString, object, secret } from '../schema.js';

/**
 * A per-device enrollment profile with a fresh identity, for EraseDevice's MDMProfileData when the
 * device cannot re-enroll through Automated Device Enrollment by itself.
 */
export const IssueEnrollmentProfile = defineRequest(
  'IssueEnrollmentProfile',
  'checkin.enrollment-profile.issue.v1',
  'checkin',
  object({ udid: nonEmptyString() }),
  object({ profile: secret(base64()) }),
);
