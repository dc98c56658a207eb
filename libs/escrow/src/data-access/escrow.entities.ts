import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One version of a device's bootstrap token. A new token adds a row and retires the one in force;
 * rows are never overwritten. The partial index keeps at most one version in force per device.
 */
@Entity({ name: 'bootstrap_token_versions' })
@Index('bootstrap_token_versions_udid_version', ['udid', 'version'], { unique: true })
@Index('bootstrap_token_versions_in_force', ['udid'], {
  unique: true,
  where: '"retiredAt" IS NULL',
})
export class TokenVersionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'integer' })
  version!: number;

  /** AES-256-GCM parts, base64. Null once the device asked for its token to be removed. */
  @Column({ type: 'text', nullable: true })
  iv!: string | null;

  @Column({ type: 'text', nullable: true })
  ciphertext!: string | null;

  @Column({ type: 'text', nullable: true })
  authTag!: string | null;

  /** Keyed HMAC (base64) that detects a repeated token without opening the stored one. */
  @Column({ type: 'text', nullable: true })
  fingerprint!: string | null;

  @Column({ type: Date })
  escrowedAt!: Date;

  @Column({ type: Date, nullable: true })
  retiredAt!: Date | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  retiredBecause!: 'replaced' | 'removed' | null;
}

/** Every store, repeat, clear and fetch, with who asked and why. Never holds token material. */
@Entity({ name: 'escrow_audit' })
@Index('escrow_audit_udid_at', ['udid', 'at'])
export class EscrowAuditEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'varchar', length: 16 })
  action!: 'store' | 'repeat' | 'clear' | 'fetch';

  /** The version stored, repeated, retired or returned. */
  @Column({ type: 'integer', nullable: true })
  version!: number | null;

  /** Fetch: a token was in force and was read. Store, repeat, clear: one was in force before. */
  @Column({ type: 'boolean' })
  found!: boolean;

  @Column({ type: 'varchar', length: 255 })
  requestedBy!: string;

  @Column({ type: 'varchar', length: 255 })
  reason!: string;

  /** The service the request came through. */
  @Column({ type: 'varchar', length: 32 })
  source!: string;

  @Column({ type: 'varchar', length: 64 })
  messageId!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  correlationId!: string | null;

  @Column({ type: Date })
  at!: Date;
}

export const ESCROW_ENTITIES = [TokenVersionEntity, EscrowAuditEntity];
