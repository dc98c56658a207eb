import { defineEvent } from '../envelope.js';
import { profileReference } from '../provisioning/device-requests.message.js';
import { array, base64, boolean, nonEmptyString, object, oneOf, optional } from '../schema.js';

/**
 * "Queue these commands for this enrollment", sent by the provisioning service. `command` is the
 * XML plist of the Command dictionary (RequestType and its keys), built with @turnaround/protocol.
 * Delivered at least once: the commands service ignores a CommandUUID it already has.
 *
 * - `attachBootstrapToken`: an EraseDevice whose `ReturnToService.BootstrapToken` is filled in only
 *   when the command is delivered, fetched from escrow with `reason` for its audit; the queued row
 *   and this message never hold the token.
 * - `attachReturnToServiceProfiles`: the same for the erase's `ReturnToService.WiFiProfileData`
 *   and `MDMProfileData` (a network password, an identity and its password): provisioning renders
 *   them for cycle `cycleId` when the erase is delivered (RenderReturnToServiceProfiles).
 * - `attachProfile`: an InstallProfile without `Payload`, whose profile (a plan's, or the standing
 *   Wi-Fi profile, which may hold credentials) provisioning renders for cycle `cycleId` when it is
 *   delivered (RenderProfile); an InstallProfile has either a `Payload` or this, never both.
 * - `whileAwaitingConfiguration`: the command only makes sense before DeviceConfigured; once the
 *   enrollment's DeviceConfigured was acknowledged it is refused (DeviceConfigured itself always is).
 */
export const EnqueueCommands = defineEvent(
  'EnqueueCommands',
  'commands.queue.enqueue-requested.v1',
  'provisioning',
  object({
    udid: nonEmptyString(),
    enrollmentId: nonEmptyString(),
    placement: oneOf('back', 'front'),
    commands: array(
      object({
        commandUuid: nonEmptyString(),
        requestType: nonEmptyString(),
        command: base64(),
        attachBootstrapToken: optional(object({ reason: nonEmptyString() })),
        attachReturnToServiceProfiles: optional(object({ cycleId: nonEmptyString() })),
        attachProfile: optional(object({ cycleId: nonEmptyString(), profile: profileReference() })),
        whileAwaitingConfiguration: optional(boolean()),
      }),
    ),
  }),
);

/** Moves a queued command to the head of its queue (the release timeout uses it). */
export const PrioritizeCommand = defineEvent(
  'PrioritizeCommand',
  'commands.queue.prioritize-requested.v1',
  'provisioning',
  object({ udid: nonEmptyString(), enrollmentId: nonEmptyString(), commandUuid: nonEmptyString() }),
);
