import { defineEvent, EventContract } from '../envelope.js';
import { nonEmptyString, object, ObjectOf, oneOf, optional, string, timestamp } from '../schema.js';

/** The states of one Return to Service cycle; the README draws the machine. */
export const CYCLE_STATES = [
  'requested',
  'erase-queued',
  'erase-acknowledged',
  'provisioning',
  'configured',
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
  state: oneOf(...CYCLE_STATES),
  previousState: optional(oneOf(...CYCLE_STATES)),
  reason: optional(string()),
  at: timestamp(),
};
const transitionSchema = object(transitionShape);
export type CycleTransition = ObjectOf<typeof transitionShape>;

function cycleEvent(name: string, state: CycleState): EventContract<CycleTransition> {
  return defineEvent(name, `provisioning.rts-cycle.${state}.v1`, transitionSchema);
}

/** One event per state a cycle enters; all share one payload shape. */
export const CycleEvents: Record<CycleState, EventContract<CycleTransition>> = {
  requested: cycleEvent('ReturnToServiceCycleRequested', 'requested'),
  'erase-queued': cycleEvent('EraseQueued', 'erase-queued'),
  'erase-acknowledged': cycleEvent('EraseAcknowledged', 'erase-acknowledged'),
  provisioning: cycleEvent('ProvisioningStarted', 'provisioning'),
  configured: cycleEvent('DeviceConfigured', 'configured'),
  'returned-to-service': cycleEvent('DeviceReturnedToService', 'returned-to-service'),
  failed: cycleEvent('ReturnToServiceFailed', 'failed'),
  stalled: cycleEvent('ReturnToServiceStalled', 'stalled'),
};
