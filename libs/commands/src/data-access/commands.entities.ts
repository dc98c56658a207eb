import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { CommandState } from '../domain/queue-rules.js';

/**
 * One command for one enrollment. The key includes the enrollment: a command is never found by
 * UDID alone, so nothing queued for an earlier enrollment can reach a later one (B05).
 */
@Entity({ name: 'commands' })
// The queue of one enrollment is read by (enrollmentId, state) on every device request.
@Index('commands_enrollment_state', ['enrollmentId', 'state'])
@Index('commands_udid_state', ['udid', 'state'])
@Index('commands_command_uuid', ['commandUuid'])
// Pending counts by state (metrics), and finished commands by age (retention).
@Index('commands_state_updated_at', ['state', 'updatedAt'])
export class CommandEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  enrollmentId!: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  commandUuid!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 128 })
  requestType!: string;

  /**
   * Base64 of the XML plist of the Command dictionary, exactly as it was enqueued. Never holds a
   * bootstrap token nor Return to Service profiles: the consumer refuses an erase that carries one.
   * An InstallProfile queued with a profile reference (`profile*`) has no `Payload` here.
   */
  @Column({ type: 'text' })
  body!: string;

  /**
   * Set for an erase whose `ReturnToService.BootstrapToken` is fetched from escrow when it is
   * delivered: the audit reason escrow is given then. The token itself is never stored here.
   */
  @Column({ type: 'text', nullable: true })
  bootstrapTokenReason!: string | null;

  /**
   * Set for an erase whose `ReturnToService.WiFiProfileData` and `MDMProfileData` provisioning
   * renders for this RTS cycle when it is delivered; the profiles themselves are never stored.
   */
  @Column({ type: 'varchar', length: 255, nullable: true })
  returnToServiceProfilesCycleId!: string | null;

  /**
   * Set for an InstallProfile whose `Payload` provisioning renders for this RTS cycle when it is
   * delivered, with the three below naming the profile; the profile itself is never stored.
   */
  @Column({ type: 'varchar', length: 255, nullable: true })
  profileCycleId!: string | null;

  /** Where the profile comes from: the cycle's plan, or the standing Wi-Fi profile. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  profileSource!: 'plan' | 'standing-wifi' | null;

  /** The plan profile's name; null for the standing Wi-Fi profile. */
  @Column({ type: 'text', nullable: true })
  profileName!: string | null;

  /** Provisioning's digest of the profile bytes when the command was queued; a changed profile is refused. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  profileDigest!: string | null;

  /** A setup step, refused once the enrollment's DeviceConfigured was acknowledged. */
  @Column({ type: 'boolean', default: false })
  whileAwaitingConfiguration!: boolean;

  /** Queue order within the enrollment; 'front' placement and prioritizing go below 1. */
  @Column({ type: 'integer' })
  sequence!: number;

  @Column({ type: 'varchar', length: 16 })
  state!: CommandState;

  @Column({ type: 'integer' })
  deliveries!: number;

  @Column({ type: 'varchar', length: 64, nullable: true })
  notNowSessionId!: string | null;

  /** The workflow (RTS cycle) that queued the command; results travel with it. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  correlationId!: string | null;

  @Column({ type: Date })
  queuedAt!: Date;

  @Column({ type: Date, nullable: true })
  lastDeliveredAt!: Date | null;

  /** When the last result (including NotNow) arrived; B16 pushes are timed from here. */
  @Column({ type: Date, nullable: true })
  lastReportAt!: Date | null;

  @Column({ type: Date })
  updatedAt!: Date;
}

/**
 * The queue side of an enrollment: whether a fresh enrollment superseded it, and the device's
 * current command session. The session lives here, not in memory, so that several replicas can
 * serve one device.
 */
@Entity({ name: 'enrollments' })
@Index('enrollments_udid_status', ['udid', 'status'])
export class EnrollmentQueueEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  enrollmentId!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: 'active' | 'superseded';

  @Column({ type: 'varchar', length: 64, nullable: true })
  sessionId!: string | null;

  @Column({ type: Date, nullable: true })
  sessionStartedAt!: Date | null;

  /**
   * When the device acknowledged this enrollment's first DeviceConfigured; from then on a
   * DeviceConfigured or a setup step is refused rather than sent.
   */
  @Column({ type: Date, nullable: true })
  deviceConfiguredAt!: Date | null;

  /**
   * When the device last reached the command URL with this enrollment. Written in batches about
   * once a second, so it may lag the device by that much.
   */
  @Column({ type: Date, nullable: true })
  lastSeenAt!: Date | null;

  @Column({ type: Date })
  updatedAt!: Date;
}

/**
 * Which enrollment an identity certificate belongs to: a projection of the check-in service's
 * DeviceEnrolled events, filled on a miss by asking it (ResolveIdentity).
 */
@Entity({ name: 'identities' })
export class IdentityProjectionEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  fingerprint!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 64 })
  enrollmentId!: string;

  @Column({ type: 'boolean' })
  userEnrollment!: boolean;

  @Column({ type: 'varchar', length: 16 })
  source!: 'event' | 'resolved';

  @Column({ type: Date })
  updatedAt!: Date;
}

export const COMMANDS_ENTITIES = [CommandEntity, EnrollmentQueueEntity, IdentityProjectionEntity];
