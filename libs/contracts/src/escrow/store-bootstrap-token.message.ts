import { defineRequest } from '../envelope.js';
import { base64, boolean, integer, nonEmptyString, object, optional, secret } from '../schema.js';

/**
 * SetBootstrapToken, forwarded by the check-in service. A missing or empty token deletes the
 * stored one. The reply carries only the outcome, never the token.
 */
export const StoreBootstrapToken = defineRequest(
  'StoreBootstrapToken',
  'escrow.bootstrap-token.store.v1',
  'escrow',
  object({
    udid: nonEmptyString(),
    token: optional(secret(base64())),
    awaitingConfiguration: boolean(),
  }),
  object({ stored: boolean(), version: optional(integer()) }),
);
