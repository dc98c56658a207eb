import { defineEvent } from '../envelope.js';
import { integer, nonEmptyString, object, timestamp } from '../schema.js';

/** Status only: the token itself never travels in an event. */
export const BootstrapTokenEscrowed = defineEvent(
  'BootstrapTokenEscrowed',
  'escrow.bootstrap-token.escrowed.v1',
  'escrow',
  object({ udid: nonEmptyString(), version: integer(), escrowedAt: timestamp() }),
);

export const BootstrapTokenCleared = defineEvent(
  'BootstrapTokenCleared',
  'escrow.bootstrap-token.cleared.v1',
  'escrow',
  object({ udid: nonEmptyString(), clearedAt: timestamp() }),
);
