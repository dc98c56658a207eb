import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The columns of one sealed version of a secret. A new secret adds a row and retires the one in
 * force; rows are never overwritten, except that RewrapEscrowKeys re-wraps their data key.
 */
abstract class SealedVersionColumns {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  @Column({ type: 'integer' })
  version!: number;

  /**
   * The key-encryption key that wraps `wrappedKey`. Null on rows sealed before the key ring,
   * which open under the adopted key, and on rows whose secret was removed.
   */
  @Column({ type: 'varchar', length: 64, nullable: true })
  keyId!: string | null;

  /** The row's data key wrapped under `keyId` (AES-256-GCM `iv | ciphertext | tag`), base64. */
  @Column({ type: 'text', nullable: true })
  wrappedKey!: string | null;

  /** The secret under the data key, AES-256-GCM parts, base64. Null once removed. */
  @Column({ type: 'text', nullable: true })
  iv!: string | null;

  @Column({ type: 'text', nullable: true })
  ciphertext!: string | null;

  @Column({ type: 'text', nullable: true })
  authTag!: string | null;

  /** Keyed HMAC (base64) that detects a repeated secret without opening the stored one. */
  @Column({ type: 'text', nullable: true })
  fingerprint!: string | null;

  @Column({ type: Date })
  escrowedAt!: Date;

  @Column({ type: Date, nullable: true })
  retiredAt!: Date | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  retiredBecause!: 'replaced' | 'removed' | null;
}

/** One version of a device's bootstrap token. At most one version per device is in force. */
@Entity({ name: 'bootstrap_token_versions' })
@Index('bootstrap_token_versions_udid_version', ['udid', 'version'], { unique: true })
@Index('bootstrap_token_versions_in_force', ['udid'], {
  unique: true,
  where: '"retiredAt" IS NULL',
})
export class TokenVersionEntity extends SealedVersionColumns {}

/**
 * One version of a device's Activation Lock bypass code. A device makes a new code after every
 * erase, so a new code retires the one in force; a code is never removed otherwise.
 */
@Entity({ name: 'activation_lock_bypass_codes' })
@Index('activation_lock_bypass_codes_udid_version', ['udid', 'version'], { unique: true })
@Index('activation_lock_bypass_codes_in_force', ['udid'], {
  unique: true,
  where: '"retiredAt" IS NULL',
})
export class BypassCodeVersionEntity extends SealedVersionColumns {}

export type SealedVersionRow = TokenVersionEntity | BypassCodeVersionEntity;

export type AuditAction = 'store' | 'repeat' | 'clear' | 'fetch' | 'rewrap' | 'unlock';

/** Every store, repeat, clear, read, re-wrap and unlock, with who asked and why. Never a secret. */
@Entity({ name: 'escrow_audit' })
@Index('escrow_audit_udid_at', ['udid', 'at'])
// Retention removes rows by age alone.
@Index('escrow_audit_at', ['at'])
export class EscrowAuditEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  udid!: string;

  /** Which secret: `bootstrap-token` or `activation-lock-bypass-code`. */
  @Column({ type: 'varchar', length: 32, default: 'bootstrap-token' })
  secret!: string;

  @Column({ type: 'varchar', length: 16 })
  action!: AuditAction;

  /** The version stored, repeated, retired, read, re-wrapped or used. */
  @Column({ type: 'integer', nullable: true })
  version!: number | null;

  /** Fetch, unlock: a secret was in force. Store, repeat, clear: one was in force before. */
  @Column({ type: 'boolean' })
  found!: boolean;

  /** Unlock: what Apple's endpoint made of it (cleared, refused, unavailable). */
  @Column({ type: 'varchar', length: 16, nullable: true })
  outcome!: string | null;

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

export const ESCROW_ENTITIES = [TokenVersionEntity, BypassCodeVersionEntity, EscrowAuditEntity];
