import type { CycleState } from '@turnaround/contracts';

import type { ManagedDevice, RtsCycle } from '../data-access/provisioning.records.js';

/** A cycle of `udid` in `state`, requested at `requestedAt`; finished states get an end. */
export function cycleRow(
  id: string,
  udid: string,
  state: CycleState,
  requestedAt: Date,
  fields: Partial<RtsCycle> = {},
): RtsCycle {
  const ended = state === 'returned-to-service' || state === 'failed' ? requestedAt : null;

  return {
    id,
    udid,
    configurationId: 'configuration-1',
    configurationName: 'front-desk',
    trigger: 'service',
    state,
    stalledIn: null,
    reason: null,
    enrollmentId: `enrollment-${udid}`,
    newEnrollmentId: null,
    eraseCommandUuid: null,
    releaseCommandUuid: null,
    planSteps: '{}',
    mdmProfileBecause: null,
    preserveApps: false,
    preservationDeclined: null,
    snapshotCommandUuid: null,
    lockCheckCommandUuid: null,
    lockCheckedAt: null,
    releaseHeld: false,
    snapshotNotNows: 0,
    snapshotApps: null,
    snapshotStartedAt: null,
    requestedAt,
    eraseQueuedAt: null,
    eraseAcknowledgedAt: null,
    provisioningAt: null,
    configuredAt: null,
    returnedAt: state === 'returned-to-service' ? requestedAt : null,
    endedAt: ended,
    deadlineAt: null,
    releaseDueAt: null,
    updatedAt: requestedAt,
    ...fields,
  };
}

/** An enrolled iPhone as the provisioning service knows it, in service, with no cycle. */
export function deviceRow(udid: string, at: Date): ManagedDevice {
  return {
    udid,
    enrollmentId: `enrollment-${udid}`,
    enrollmentStatus: 'enrolled',
    serialNumber: null,
    productName: 'iPhone16,1',
    osVersion: '26.0',
    platform: 'ios',
    userEnrollment: false,
    awaitingConfiguration: false,
    enrolledViaAde: true,
    supervised: true,
    activationLockEnabled: false,
    currentCycleId: null,
    releaseCommandUuid: null,
    rtsConfigurationId: null,
    inServiceSince: at,
    enrolledAt: at,
    updatedAt: at,
  };
}
