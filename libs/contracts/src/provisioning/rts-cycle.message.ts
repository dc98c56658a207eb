import { defineEvent, EventContract } from '../envelope.js';
import { array, boolean, integer, nonEmptyString, object, ObjectOf, oneOf, optional, string, timestamp } from '../schema.js';

/** The states of one Return to Service cycle; the README draws the machine. */
export const CYCLE_STATES = [
  'requested',
  'blocked',
  'erase-queued',
  'erase-acknowledged',
  'provisioning',
  'configured',
  'snapshotting',
  'returned-to-service',
  'failed',
  'stalled',
] as const;
export type CycleState = (typeof CYCLE_STATES)[number];

export const CYCLE_TRIGGERS = ['service', 'user', 'idle'] as const;
export type CycleTrigger = (typeof CYCLE_TRIGGERS)[number];

const transitionShape = {
  cycleId: nonEmptyString(),
  udid: nonEmptyString(),
  configuration: nonEmptyString(),
  trigger: oneOf(...CYCLE_TRIGGERS),
  /** Whether this cycle keeps the device's apps (RTS with app preservation). */
  preserveApps: optional(boolean()),
  state: oneOf(...CYCLE_STATES),
  previousState: optional(oneOf(...CYCLE_STATES)),
  reason: optional(string()),
  at: timestamp(),
};
const transitionSchema = object(transitionShape);
export type CycleTransition = ObjectOf<typeof transitionShape>;

function cycleEvent(name: string, state: CycleState): EventContract<CycleTransition> {
  return defineEvent(name, `provisioning.rts-cycle.${state}.v1`, 'provisioning', transitionSchema);
}

/** One event per state a cycle enters; all share one payload shape. */
export const CycleEvents: Record<CycleState, EventContract<CycleTransition>> = {
  requested: cycleEvent('ReturnToServiceCycleRequested', 'requested'),
  blocked: cycleEvent('ReturnToServiceBlocked', 'blocked'),
  'erase-queued': cycleEvent('EraseQueued', 'erase-queued'),
  'erase-acknowledged': cycleEvent('EraseAcknowledged', 'erase-acknowledged'),
  provisioning: cycleEvent('ProvisioningStarted', 'provisioning'),
  configured: cycleEvent('DeviceConfigured', 'configured'),
  snapshotting: cycleEvent('SnapshotPhaseStarted', 'snapshotting'),
  'returned-to-service': cycleEvent('DeviceReturnedToService', 'returned-to-service'),
  failed: cycleEvent('ReturnToServiceFailed', 'failed'),
  stalled: cycleEvent('ReturnToServiceStalled', 'stalled'),
};

/**
 * App preservation was asked for, but this cycle runs as a standard Return to Service: `reason`
 * says why (no bootstrap token escrowed, not ADE-enrolled, OS too old, tvOS, ...).
 */
export const AppPreservationDeclined = defineEvent(
  'AppPreservationDeclined',
  'provisioning.rts-cycle.app-preservation-declined.v1',
  'provisioning',
  object({ cycleId: nonEmptyString(), udid: nonEmptyString(), reason: nonEmptyString(), at: timestamp() }),
);

/**
 * After DeviceConfigured the device installed new apps, removed those not reinstalled, took its
 * snapshot and resumed (NotNow then Idle). `apps` is the managed-app inventory it reported then.
 */
export const SnapshotReady = defineEvent(
  'SnapshotReady',
  'provisioning.rts-cycle.snapshot-ready.v1',
  'provisioning',
  object({
    cycleId: nonEmptyString(),
    udid: nonEmptyString(),
    apps: array(object({ identifier: nonEmptyString(), version: optional(string()), status: optional(string()) })),
    notNowAnswers: integer(),
    snapshotMs: integer(),
    at: timestamp(),
  }),
);
