import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

import type { CycleState, CycleTrigger } from '@turnaround/contracts';

import type { ManagedDevice, RtsConfiguration, RtsCycle, RtsCycleTransition } from './provisioning.records.js';

/** A named Return to Service configuration: what the erase carries and what runs afterwards. */
@Entity({ name: 'rts_configurations' })
export class RtsConfigurationEntity implements RtsConfiguration {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 128, unique: true })
  name!: string;

  /** The .mobileconfig bytes, base64. Holds a Wi-Fi password: never logged, never returned. */
  @Column({ type: 'text', nullable: true })
  wifiProfile!: string | null;

  @Column({ type: 'text', nullable: true })
  enrollmentProfile!: string | null;

  /** JSON: the ADE assignment of the devices this configuration serves. */
  @Column({ type: 'text', nullable: true })
  ade!: string | null;

  /** JSON: profiles and apps to install while the device awaits configuration. */
  @Column({ type: 'text' })
  plan!: string;

  @Column({ type: 'boolean', default: false })
  preserveApps!: boolean;

  @Column({ type: 'boolean', default: false })
  preserveDataPlan!: boolean;

  @Column({ type: 'integer', nullable: true })
  temporarySessionTimeout!: number | null;

  @Column({ type: 'text', nullable: true })
  osPolicy!: string | null;

  @Column()
  createdAt!: Date;

  @Column()
  updatedAt!: Date;
}

/** The provisioning service's view of a device, built from check-in and command events. */
@Entity({ name: 'managed_devices' })
export class ManagedDeviceEntity implements ManagedDevice {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  enrollmentId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  enrollmentStatus!: 'enrolled' | 'checked-out';

  @Column({ type: 'varchar', length: 64, nullable: true })
  serialNumber!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  productName!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  osVersion!: string | null;

  @Column({ type: 'varchar', length: 16 })
  platform!: string;

  @Column({ type: 'boolean' })
  userEnrollment!: boolean;

  @Column({ type: 'boolean' })
  awaitingConfiguration!: boolean;

  /** From SecurityInfo's ManagementStatus.EnrolledViaDEP; null until the device has said. */
  @Column({ type: 'boolean', nullable: true })
  enrolledViaAde!: boolean | null;

  @Column({ type: 'boolean', nullable: true })
  supervised!: boolean | null;

  @Column({ type: 'boolean', nullable: true })
  activationLockEnabled!: boolean | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  currentCycleId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  releaseCommandUuid!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  rtsConfigurationId!: string | null;

  @Column({ type: Date, nullable: true })
  inServiceSince!: Date | null;

  @Column()
  enrolledAt!: Date;

  @Column()
  updatedAt!: Date;
}

/** One Return to Service cycle of one device; a persisted state machine. */
@Entity({ name: 'rts_cycles' })
@Index('rts_cycles_udid_requested_at', ['udid', 'requestedAt'])
// The cycle timer's two questions, asked every second: overdue phases and due releases.
@Index('rts_cycles_state_deadline_at', ['state', 'deadlineAt'])
@Index('rts_cycles_state_release_due_at', ['state', 'releaseDueAt'])
// Only finished cycles have an end: retention finds the old ones without reading the others.
@Index('rts_cycles_ended_at', ['endedAt'])
export class RtsCycleEntity implements RtsCycle {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 64 })
  configurationId!: string;

  @Column({ type: 'varchar', length: 128 })
  configurationName!: string;

  @Column({ type: 'varchar', length: 16 })
  trigger!: CycleTrigger;

  @Column({ type: 'varchar', length: 32 })
  state!: CycleState;

  /** Where a stalled cycle was when it stalled, so it can resume. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  stalledIn!: CycleState | null;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'varchar', length: 64 })
  enrollmentId!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  newEnrollmentId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  eraseCommandUuid!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  releaseCommandUuid!: string | null;

  /** JSON: CommandUUID → { requestType, outcome } for the plan's commands. */
  @Column({ type: 'text' })
  planSteps!: string;

  @Column({ type: 'varchar', length: 32, nullable: true })
  mdmProfileBecause!: string | null;

  @Column({ type: 'boolean', default: false })
  preserveApps!: boolean;

  @Column({ type: 'text', nullable: true })
  preservationDeclined!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  snapshotCommandUuid!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  lockCheckCommandUuid!: string | null;

  @Column({ type: Date, nullable: true })
  lockCheckedAt!: Date | null;

  @Column({ type: 'boolean', default: false })
  releaseHeld!: boolean;

  @Column({ type: 'integer', default: 0 })
  snapshotNotNows!: number;

  @Column({ type: 'text', nullable: true })
  snapshotApps!: string | null;

  @Column({ type: Date, nullable: true })
  snapshotStartedAt!: Date | null;

  @Column()
  requestedAt!: Date;

  @Column({ type: Date, nullable: true })
  eraseQueuedAt!: Date | null;

  @Column({ type: Date, nullable: true })
  eraseAcknowledgedAt!: Date | null;

  @Column({ type: Date, nullable: true })
  provisioningAt!: Date | null;

  @Column({ type: Date, nullable: true })
  configuredAt!: Date | null;

  @Column({ type: Date, nullable: true })
  returnedAt!: Date | null;

  @Column({ type: Date, nullable: true })
  endedAt!: Date | null;

  /** When the current phase must have ended; past it the cycle stalls. */
  @Column({ type: Date, nullable: true })
  deadlineAt!: Date | null;

  /** When DeviceConfigured goes to the head of the queue whatever the plan's state. */
  @Column({ type: Date, nullable: true })
  releaseDueAt!: Date | null;

  @Column()
  updatedAt!: Date;
}

/** Every state a cycle entered, with why: the cycle's history. */
@Entity({ name: 'rts_cycle_transitions' })
@Index('rts_cycle_transitions_cycle_id', ['cycleId'])
export class RtsCycleTransitionEntity implements RtsCycleTransition {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 64 })
  cycleId!: string;

  @Column({ type: 'varchar', length: 32, nullable: true })
  fromState!: CycleState | null;

  @Column({ type: 'varchar', length: 32 })
  toState!: CycleState;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column()
  at!: Date;
}

export const PROVISIONING_ENTITIES = [
  RtsConfigurationEntity,
  ManagedDeviceEntity,
  RtsCycleEntity,
  RtsCycleTransitionEntity,
];
