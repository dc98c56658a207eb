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
  eraseCommandUuid: string;
  releaseCommandUuid: string | null;
  planSteps: string;
  mdmProfileBecause: string | null;
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
