import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A device as the check-in service knows it: one row per UDID, across enrollments. */
@Entity({ name: 'devices' })
export class DeviceEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  serialNumber!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  productName!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  osVersion!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  buildVersion!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  currentEnrollmentId!: string | null;

  @Column()
  updatedAt!: Date;
}

/**
 * One enrollment of a device: from the TokenUpdate that completes it until the device enrolls
 * afresh (superseded) or checks out. Push details live here because they change per enrollment.
 */
@Entity({ name: 'enrollments' })
@Index('enrollments_udid_status', ['udid', 'status'])
export class EnrollmentEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: 'active' | 'superseded' | 'checked-out';

  @Column({ type: 'boolean' })
  userEnrollment!: boolean;

  @Column({ type: 'boolean' })
  awaitingConfiguration!: boolean;

  @Column({ type: 'varchar', length: 255 })
  topic!: string;

  @Column({ type: 'text', nullable: true })
  pushToken!: string | null;

  @Column({ type: 'text', nullable: true })
  pushMagic!: string | null;

  @Column()
  createdAt!: Date;

  @Column()
  updatedAt!: Date;
}

/** An identity certificate: bound to a UDID at Authenticate, to an enrollment at TokenUpdate. */
@Entity({ name: 'identities' })
@Index('identities_udid', ['udid'])
export class IdentityEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  fingerprint!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  enrollmentId!: string | null;

  @Column({ type: 'boolean' })
  userEnrollment!: boolean;

  @Column({ type: 'varchar', length: 255, nullable: true })
  subject!: string | null;

  @Column()
  boundAt!: Date;
}

/** A user channel on a device (Shared iPad users are keyed by short name, B22). */
@Entity({ name: 'user_channels' })
export class UserChannelEntity {
  @PrimaryColumn({ type: 'varchar', length: 320 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 255 })
  userKey!: string;

  @Column({ type: 'text', nullable: true })
  pushToken!: string | null;

  @Column({ type: 'text', nullable: true })
  pushMagic!: string | null;

  @Column()
  updatedAt!: Date;
}

/**
 * The one-time SCEP challenge of an issued enrollment profile, kept as a hash. Once a certificate
 * is issued with it, the row keeps the transaction, the request and the certificate, so that the
 * same request sent again gets the same certificate and any other is refused.
 */
@Entity({ name: 'scep_challenges' })
@Index('scep_challenges_expires_at', ['expiresAt'])
export class ScepChallengeEntity {
  /** Hex SHA-256 of the challenge. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  challengeHash!: string;

  @Column()
  createdAt!: Date;

  @Column()
  expiresAt!: Date;

  @Column({ type: Date, nullable: true })
  usedAt!: Date | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  transactionId!: string | null;

  /** Hex SHA-256 of the PKCS#10 request the certificate was issued for. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  requestHash!: string | null;

  /** The issued certificate, base64 DER. */
  @Column({ type: 'text', nullable: true })
  certificate!: string | null;
}

export const CHECKIN_ENTITIES = [DeviceEntity, EnrollmentEntity, IdentityEntity, UserChannelEntity, ScepChallengeEntity];
