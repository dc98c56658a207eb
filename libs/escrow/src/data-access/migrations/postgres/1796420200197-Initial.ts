// Written by `npm run migrations:generate -- Initial` from the escrow entities
// (PostgreSQL), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1796420200197 implements MigrationInterface {
  name = 'Initial1796420200197';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "escrow"."outbox_messages" ("seq" SERIAL NOT NULL, "messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "subject" character varying(128) NOT NULL, "envelope" text NOT NULL, "createdAt" TIMESTAMP NOT NULL, "failedAttempts" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_d24ca6550fc486f101fe4f8b021" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "outbox_messages_message_id" ON "escrow"."outbox_messages"  ("messageId") `,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_messages_created_at" ON "escrow"."outbox_messages"  ("createdAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "escrow"."inbox_messages" ("messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "handledAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_58d8f77a9f5873332bab0a6cdee" PRIMARY KEY ("messageId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "inbox_messages_handled_at" ON "escrow"."inbox_messages"  ("handledAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "escrow"."bootstrap_token_versions" ("id" character varying(36) NOT NULL, "udid" character varying(64) NOT NULL, "version" integer NOT NULL, "keyId" character varying(64), "wrappedKey" text, "iv" text, "ciphertext" text, "authTag" text, "fingerprint" text, "escrowedAt" TIMESTAMP NOT NULL, "retiredAt" TIMESTAMP, "retiredBecause" character varying(16), CONSTRAINT "PK_e3d333dde1326072c9227c16643" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "bootstrap_token_versions_in_force" ON "escrow"."bootstrap_token_versions"  ("udid") WHERE "retiredAt" IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "bootstrap_token_versions_udid_version" ON "escrow"."bootstrap_token_versions"  ("udid", "version") `,
    );
    await queryRunner.query(
      `CREATE TABLE "escrow"."activation_lock_bypass_codes" ("id" character varying(36) NOT NULL, "udid" character varying(64) NOT NULL, "version" integer NOT NULL, "keyId" character varying(64), "wrappedKey" text, "iv" text, "ciphertext" text, "authTag" text, "fingerprint" text, "escrowedAt" TIMESTAMP NOT NULL, "retiredAt" TIMESTAMP, "retiredBecause" character varying(16), CONSTRAINT "PK_a86e5b6f98fe2eb595fb3ed1841" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "activation_lock_bypass_codes_in_force" ON "escrow"."activation_lock_bypass_codes"  ("udid") WHERE "retiredAt" IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "activation_lock_bypass_codes_udid_version" ON "escrow"."activation_lock_bypass_codes"  ("udid", "version") `,
    );
    await queryRunner.query(
      `CREATE TABLE "escrow"."escrow_audit" ("id" character varying(36) NOT NULL, "udid" character varying(64) NOT NULL, "secret" character varying(32) NOT NULL DEFAULT 'bootstrap-token', "action" character varying(16) NOT NULL, "version" integer, "found" boolean NOT NULL, "outcome" character varying(16), "requestedBy" character varying(255) NOT NULL, "reason" character varying(255) NOT NULL, "source" character varying(32) NOT NULL, "messageId" character varying(64) NOT NULL, "correlationId" character varying(64), "at" TIMESTAMP NOT NULL, CONSTRAINT "PK_ade402eeec4fcea3ee0e4448840" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "escrow_audit_at" ON "escrow"."escrow_audit"  ("at") `);
    await queryRunner.query(
      `CREATE INDEX "escrow_audit_udid_at" ON "escrow"."escrow_audit"  ("udid", "at") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "escrow"."escrow_audit_udid_at"`);
    await queryRunner.query(`DROP INDEX "escrow"."escrow_audit_at"`);
    await queryRunner.query(`DROP TABLE "escrow"."escrow_audit"`);
    await queryRunner.query(`DROP INDEX "escrow"."activation_lock_bypass_codes_udid_version"`);
    await queryRunner.query(`DROP INDEX "escrow"."activation_lock_bypass_codes_in_force"`);
    await queryRunner.query(`DROP TABLE "escrow"."activation_lock_bypass_codes"`);
    await queryRunner.query(`DROP INDEX "escrow"."bootstrap_token_versions_udid_version"`);
    await queryRunner.query(`DROP INDEX "escrow"."bootstrap_token_versions_in_force"`);
    await queryRunner.query(`DROP TABLE "escrow"."bootstrap_token_versions"`);
    await queryRunner.query(`DROP INDEX "escrow"."inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "escrow"."inbox_messages"`);
    await queryRunner.query(`DROP INDEX "escrow"."outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "escrow"."outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "escrow"."outbox_messages"`);
  }
}
