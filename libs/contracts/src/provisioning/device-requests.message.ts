import { defineRequest } from '../envelope.js';
import { base64, boolean, nonEmptyString, object, oneOf, optional, secret, string } from '../schema.js';

/**
 * Check-in asks, for a ReturnToService check-in, what this device's Return to Service looks like
 * now. With `enabled`, provisioning has started a cycle (trigger user or idle) and the reply holds
 * the same pieces it would put in EraseDevice; check-in adds the bootstrap token from escrow when
 * `attachBootstrapToken` is set. Without it, `reason` says why RTS is off for the device.
 */
export const PrepareDeviceReturnToService = defineRequest(
  'PrepareDeviceReturnToService',
  'provisioning.device.prepare-return-to-service.v1',
  'provisioning',
  object({ udid: nonEmptyString(), enrollmentId: nonEmptyString() }),
  object({
    enabled: boolean(),
    reason: optional(string()),
    cycleId: optional(nonEmptyString()),
    trigger: optional(oneOf('user', 'idle')),
    wifiProfileData: optional(secret(base64())),
    mdmProfileData: optional(secret(base64())),
    preserveDataPlan: optional(boolean()),
    attachBootstrapToken: optional(boolean()),
  }),
);

/**
 * Check-in asks, before it hands a device its enrollment profile (the ADE fetch with MachineInfo),
 * whether the device must update its OS first. `update` is answered with Apple's 403
 * software-update-required; check-in only asks for devices whose MachineInfo allows it.
 */
export const CheckEnrollmentPolicy = defineRequest(
  'CheckEnrollmentPolicy',
  'provisioning.device.check-enrollment-policy.v1',
  'provisioning',
  object({
    udid: nonEmptyString(),
    serialNumber: optional(string()),
    product: optional(string()),
    osVersion: optional(string()),
    buildVersion: optional(string()),
    /** MachineInfo's SUPPLEMENTAL_OS_VERSION_EXTRA, e.g. "(a)": a device already on that response is not asked again. */
    supplementalOsVersionExtra: optional(string()),
  }),
  object({
    action: oneOf('enroll', 'update'),
    osVersion: optional(nonEmptyString()),
    buildVersion: optional(nonEmptyString()),
    message: optional(string()),
  }),
);

/**
 * The commands service asks, as it delivers an erase queued with `attachReturnToServiceProfiles`
 * (see EnqueueCommands), for the profiles of cycle `cycleId`: the Wi-Fi profile (with the
 * network's password) and the enrollment profile (with an identity) never travel in an event.
 * Answered with an error `CYCLE.NOT_ERASING` when the cycle is not this device's or no longer
 * waits for its erase.
 */
export const RenderReturnToServiceProfiles = defineRequest(
  'RenderReturnToServiceProfiles',
  'provisioning.device.render-return-to-service-profiles.v1',
  'provisioning',
  object({ udid: nonEmptyString(), cycleId: nonEmptyString() }),
  object({
    wifiProfileData: optional(secret(base64())),
    mdmProfileData: optional(secret(base64())),
  }),
);

/**
 * Names, without its bytes, a profile an RTS cycle installs: one of its configuration's plan
 * (`plan`, by `name`) or the Wi-Fi profile a visionOS device gets again in each cycle that keeps
 * its apps (`standing-wifi`, no name). `digest` is a lowercase hex HMAC-SHA-256 of the profile
 * bytes when the command was queued, under a key only provisioning holds (a plain hash would let a
 * reader of the event test Wi-Fi password guesses), so that a profile changed since then is never
 * installed instead.
 */
export const profileReference = () =>
  object({
    source: oneOf('plan', 'standing-wifi'),
    name: optional(string()),
    digest: nonEmptyString(),
  });

/**
 * The commands service asks, as it delivers an InstallProfile queued with `attachProfile` (see
 * EnqueueCommands), for the bytes of the profile `profile` names in cycle `cycleId`; they go in
 * the command's `Payload`. Answered with an error `CYCLE.NOT_FOUND` when the cycle is not this
 * device's, and `CYCLE.PROFILE_CHANGED` when the cycle's configuration no longer holds that
 * profile with those bytes; either way the command is never to be sent.
 */
export const RenderProfile = defineRequest(
  'RenderProfile',
  'provisioning.device.render-profile.v1',
  'provisioning',
  object({ udid: nonEmptyString(), cycleId: nonEmptyString(), profile: profileReference() }),
  object({ payload: secret(base64()) }),
);
