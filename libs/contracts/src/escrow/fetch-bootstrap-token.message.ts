import { defineRequest } from '../envelope.js';
import { base64, nonEmptyString, object, optional, secret } from '../schema.js';

/** Reads the escrowed token for one device; every read is audited with its reason. */
export const FetchBootstrapToken = defineRequest(
  'FetchBootstrapToken',
  'escrow.bootstrap-token.fetch.v1',
  'escrow',
  object({ udid: nonEmptyString(), reason: nonEmptyString(), requestedBy: nonEmptyString() }),
  object({ token: optional(secret(base64())) }),
);
