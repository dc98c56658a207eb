import { defineEvent } from '../envelope.js';
import { array, boolean, facts, integer, nonEmptyString, object, oneOf, optional, string } from '../schema.js';

const commandRef = {
  udid: nonEmptyString(),
  enrollmentId: nonEmptyString(),
  commandUuid: nonEmptyString(),
  requestType: nonEmptyString(),
};

/** `bootstrapTokenIncluded`: for an erase that asked for it, whether escrow had a token to attach. */
export const CommandDelivered = defineEvent(
  'CommandDelivered',
  'commands.command.delivered.v1',
  'commands',
  object({ ...commandRef, bootstrapTokenIncluded: optional(boolean()) }),
);

/**
 * What the commands service could read from a result: inventory, never secrets. Each part holds
 * the protocol library's tolerant extraction (camelCase keys; null where the device sent
 * something unusable).
 */
const resultFacts = object({
  deviceInformation: optional(facts()),
  securityInfo: optional(facts()),
  applications: optional(array(facts())),
  /** An ActivationLockBypassCode result whose code was handed to escrow; the code itself never. */
  bypassCodeEscrowed: optional(boolean()),
});

export const CommandAcknowledged = defineEvent(
  'CommandAcknowledged',
  'commands.command.acknowledged.v1',
  'commands',
  object({ ...commandRef, facts: optional(resultFacts) }),
);

export const CommandFailed = defineEvent(
  'CommandFailed',
  'commands.command.failed.v1',
  'commands',
  object({
    ...commandRef,
    /** `Refused`: never delivered, because it no longer applies (see EnqueueCommands). */
    status: oneOf('Error', 'CommandFormatError', 'Refused'),
    errors: array(
      object({
        code: optional(integer()),
        domain: optional(string()),
        description: optional(string()),
      }),
    ),
  }),
);

export const CommandNotNow = defineEvent(
  'CommandNotNow',
  'commands.command.not-now.v1',
  'commands',
  object(commandRef),
);

/** Commands of an earlier enrollment, closed because the device enrolled afresh (B05). */
export const CommandsSuperseded = defineEvent(
  'CommandsSuperseded',
  'commands.command.superseded.v1',
  'commands',
  object({
    udid: nonEmptyString(),
    enrollmentId: nonEmptyString(),
    commandUuids: array(nonEmptyString()),
  }),
);
