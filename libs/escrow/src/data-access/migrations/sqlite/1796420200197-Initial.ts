// Written by `npm run migrations:generate -- Initial` from the escrow entities
// (SQLite), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1796420200197 implements MigrationInterface {
  name = 'Initial1796420200197';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "outbox_messages" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "messageId" varchar(36) NOT NULL, "type" varchar(128) NOT NULL, "subject" varchar(128) NOT NULL, "envelope" text NOT NULL, "createdAt" datetime NOT NULL, "failedAttempts" integer NOT NULL DEFAULT (0))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "outbox_messages_message_id" ON "outbox_messages" ("messageId") `,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_messages_created_at" ON "outbox_messages" ("createdAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "inbox_messages" ("messageId" varchar(36) PRIMARY KEY NOT NULL, "type" varchar(128) NOT NULL, "handledAt" datetime NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE INDEX "inbox_messages_handled_at" ON "inbox_messages" ("handledAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "bootstrap_token_versions" ("id" varchar(36) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "version" integer NOT NULL, "keyId" varchar(64), "wrappedKey" text, "iv" text, "ciphertext" text, "authTag" text, "fingerprint" text, "escrowedAt" datetime NOT NULL, "retiredAt" datetime, "retiredBecause" varchar(16))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "bootstrap_token_versions_in_force" ON "bootstrap_token_versions" ("udid") WHERE "retiredAt" IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "bootstrap_token_versions_udid_version" ON "bootstrap_token_versions" ("udid", "version") `,
    );
    await queryRunner.query(
      `CREATE TABLE "activation_lock_bypass_codes" ("id" varchar(36) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "version" integer NOT NULL, "keyId" varchar(64), "wrappedKey" text, "iv" text, "ciphertext" text, "authTag" text, "fingerprint" text, "escrowedAt" datetime NOT NULL, "retiredAt" datetime, "retiredBecause" varchar(16))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "activation_lock_bypass_codes_in_force" ON "activation_lock_bypass_codes" ("udid") WHERE "retiredAt" IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "activation_lock_bypass_codes_udid_version" ON "activation_lock_bypass_codes" ("udid", "version") `,
    );
    await queryRunner.query(
      `CREATE TABLE "escrow_audit" ("id" varchar(36) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "secret" varchar(32) NOT NULL DEFAULT ('bootstrap-token'), "action" varchar(16) NOT NULL, "version" integer, "found" boolean NOT NULL, "outcome" varchar(16), "requestedBy" varchar(255) NOT NULL, "reason" varchar(255) NOT NULL, "source" varchar(32) NOT NULL, "messageId" varchar(64) NOT NULL, "correlationId" varchar(64), "at" datetime NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "escrow_audit_at" ON "escrow_audit" ("at") `);
    await queryRunner.query(
      `CREATE INDEX "escrow_audit_udid_at" ON "escrow_audit" ("udid", "at") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "escrow_audit_udid_at"`);
    await queryRunner.query(`DROP INDEX "escrow_audit_at"`);
    await queryRunner.query(`DROP TABLE "escrow_audit"`);
    await queryRunner.query(`DROP INDEX "activation_lock_bypass_codes_udid_version"`);
    await queryRunner.query(`DROP INDEX "activation_lock_bypass_codes_in_force"`);
    await queryRunner.query(`DROP TABLE "activation_lock_bypass_codes"`);
    await queryRunner.query(`DROP INDEX "bootstrap_token_versions_udid_version"`);
    await queryRunner.query(`DROP INDEX "bootstrap_token_versions_in_force"`);
    await queryRunner.query(`DROP TABLE "bootstrap_token_versions"`);
    await queryRunner.query(`DROP INDEX "inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "inbox_messages"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "outbox_messages"`);
  }
}
