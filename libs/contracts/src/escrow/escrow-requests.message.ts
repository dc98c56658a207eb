import { defineRequest } from '../envelope.js';
import {
  boolean,
  integer,
  nonEmptyString,
  object,
  oneOf,
  optional,
  secret,
  string,
  timestamp,
} from '../schema.js';

/** Whether a bootstrap token is in force for a device: status only, never the value. */
export const DescribeBootstrapToken = defineRequest(
  'DescribeBootstrapToken',
  'escrow.bootstrap-token.describe.v1',
  'escrow',
  object({ udid: nonEmptyString() }),
  object({ present: boolean(), version: optional(integer()), escrowedAt: optional(timestamp()) }),
);

/** Re-wraps every stored data key under the active key-encryption key; counts, never values. */
export const RewrapEscrowKeys = defineRequest(
  'RewrapEscrowKeys',
  'escrow.key-ring.rewrap.v1',
  'escrow',
  object({ requestedBy: nonEmptyString() }),
  object({ activeKeyId: nonEmptyString(), examined: integer(), rewrapped: integer() }),
);

/**
 * The device's Activation Lock bypass code, forwarded by the commands service from the
 * ActivationLockBypassCode result. Escrow seals it like a bootstrap token.
 */
export const StoreActivationLockBypassCode = defineRequest(
  'StoreActivationLockBypassCode',
  'escrow.activation-lock-bypass-code.store.v1',
  'escrow',
  object({ udid: nonEmptyString(), code: secret(nonEmptyString()) }),
  object({ stored: boolean() }),
);

/**
 * Clears Activation Lock through Apple's unlock endpoint with the escrowed bypass code. The code
 * never leaves escrow. `outcome`: cleared; no-code (none escrowed); refused (the endpoint said
 * no); unavailable (no endpoint configured, or it could not be reached).
 */
export const ClearActivationLock = defineRequest(
  'ClearActivationLock',
  'escrow.activation-lock.clear.v1',
  'escrow',
  object({
    udid: nonEmptyString(),
    serialNumber: nonEmptyString(),
    productType: nonEmptyString(),
    imei: optional(string()),
    meid: optional(string()),
    reason: nonEmptyString(),
    requestedBy: nonEmptyString(),
  }),
  object({ outcome: oneOf('cleared', 'no-code', 'refused', 'unavailable'), detail: optional(string()) }),
);
