// What the provisioning tables hold, as plain records: the only shape that leaves data-access.
// The entities implement these, so the two cannot drift apart.

import type { CycleState, CycleTrigger } from '@turnaround/contracts';

export interface RtsConfiguration {
  id: string;
  name: string;
  wifiProfile: string | null;
  enrollmentProfile: string | null;
  ade: string | null;
  plan: string;
  /** RTS with app preservation where the device allows it (ADE, iOS/iPadOS/visionOS 26+). */
  preserveApps: boolean;
  /** EraseDevice / ReturnToService answer: keep the eSIM data plan (top-level key). */
  preserveDataPlan: boolean;
  /** visionOS idle trigger, seconds; 0 turns it off, null leaves the device's setting alone. */
  temporarySessionTimeout: number | null;
  /** JSON of the OS-version policy (domain/os-policy), or null. */
  osPolicy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ManagedDevice {
  udid: string;
  enrollmentId: string | null;
  enrollmentStatus: 'enrolled' | 'checked-out';
  serialNumber: string | null;
  productName: string | null;
  osVersion: string | null;
  platform: string;
  userEnrollment: boolean;
  awaitingConfiguration: boolean;
  enrolledViaAde: boolean | null;
  supervised: boolean | null;
  activationLockEnabled: boolean | null;
  currentCycleId: string | null;
  releaseCommandUuid: string | null;
  /** The configuration used when the device itself asks for Return to Service. */
  rtsConfigurationId: string | null;
  /** When the device last went (back) into service: the idle trigger is timed from here. */
  inServiceSince: Date | null;
  enrolledAt: Date;
  updatedAt: Date;
}

export interface RtsCycle {
  id: string;
  udid: string;
  configurationId: string;
  configurationName: string;
  trigger: CycleTrigger;
  state: CycleState;
  stalledIn: CycleState | null;
  reason: string | null;
  enrollmentId: string;
  newEnrollmentId: string | null;
  /** Null when the device asked for RTS itself: it was answered, not sent an erase. */
  eraseCommandUuid: string | null;
  releaseCommandUuid: string | null;
  planSteps: string;
  mdmProfileBecause: string | null;
  /** Whether this cycle keeps the apps (asked for, and the device and escrow allow it). */
  preserveApps: boolean;
  /** Why app preservation was asked for but this cycle runs as a standard RTS. */
  preservationDeclined: string | null;
  /** The inventory command queued behind DeviceConfigured; its answer ends the snapshot phase. */
  snapshotCommandUuid: string | null;
  /** DeviceInformation asking whether Activation Lock is on, right before the erase. */
  lockCheckCommandUuid: string | null;
  /**
   * When the device's answer to the lock check was handled. Set while the erase still waits for
   * Activation Lock to be cleared, it tells the cycle timer the start was left after that answer.
   */
  lockCheckedAt: Date | null;
  /** DeviceConfigured is held back until the plan's apps are installed (app preservation). */
  releaseHeld: boolean;
  snapshotNotNows: number;
  /** JSON of the managed apps the device reported after its snapshot. */
  snapshotApps: string | null;
  snapshotStartedAt: Date | null;
  requestedAt: Date;
  eraseQueuedAt: Date | null;
  eraseAcknowledgedAt: Date | null;
  provisioningAt: Date | null;
  configuredAt: Date | null;
  returnedAt: Date | null;
  endedAt: Date | null;
  deadlineAt: Date | null;
  releaseDueAt: Date | null;
  updatedAt: Date;
}

export interface RtsCycleTransition {
  id: number;
  cycleId: string;
  fromState: CycleState | null;
  toState: CycleState;
  reason: string | null;
  at: Date;
}
