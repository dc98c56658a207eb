import { defineEvent } from '../envelope.js';
import { array, base64, nonEmptyString, object, oneOf } from '../schema.js';

/**
 * "Queue these commands for this enrollment", sent by the provisioning service. `command` is the
 * XML plist of the Command dictionary (RequestType and its keys), built with @turnaround/protocol.
 * Delivered at least once: the commands service ignores a CommandUUID it already has.
 */
export const EnqueueCommands = defineEvent(
  'EnqueueCommands',
  'commands.queue.enqueue-requested.v1',
  object({
    udid: nonEmptyString(),
    enrollmentId: nonEmptyString(),
    placement: oneOf('back', 'front'),
    commands: array(
      object({ commandUuid: nonEmptyString(), requestType: nonEmptyString(), command: base64() }),
    ),
  }),
);

/** Moves a queued command to the head of its queue (the release timeout uses it). */
export const PrioritizeCommand = defineEvent(
  'PrioritizeCommand',
  'commands.queue.prioritize-requested.v1',
  object({ udid: nonEmptyString(), enrollmentId: nonEmptyString(), commandUuid: nonEmptyString() }),
);
