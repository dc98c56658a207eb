// Written by `npm run migrations:generate -- Initial` from the commands entities
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
      `CREATE TABLE "commands" ("enrollmentId" varchar(64) NOT NULL, "commandUuid" varchar(255) NOT NULL, "udid" varchar(64) NOT NULL, "requestType" varchar(128) NOT NULL, "body" text NOT NULL, "bootstrapTokenReason" text, "returnToServiceProfilesCycleId" varchar(255), "whileAwaitingConfiguration" boolean NOT NULL DEFAULT (0), "sequence" integer NOT NULL, "state" varchar(16) NOT NULL, "deliveries" integer NOT NULL, "notNowSessionId" varchar(64), "correlationId" varchar(255), "queuedAt" datetime NOT NULL, "lastDeliveredAt" datetime, "lastReportAt" datetime, "updatedAt" datetime NOT NULL, PRIMARY KEY ("enrollmentId", "commandUuid"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "commands_state_updated_at" ON "commands" ("state", "updatedAt") `,
    );
    await queryRunner.query(`CREATE INDEX "commands_command_uuid" ON "commands" ("commandUuid") `);
    await queryRunner.query(`CREATE INDEX "commands_udid_state" ON "commands" ("udid", "state") `);
    await queryRunner.query(
      `CREATE INDEX "commands_enrollment_state" ON "commands" ("enrollmentId", "state") `,
    );
    await queryRunner.query(
      `CREATE TABLE "enrollments" ("enrollmentId" varchar(64) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "status" varchar(16) NOT NULL, "sessionId" varchar(64), "sessionStartedAt" datetime, "deviceConfiguredAt" datetime, "lastSeenAt" datetime, "updatedAt" datetime NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE INDEX "enrollments_udid_status" ON "enrollments" ("udid", "status") `,
    );
    await queryRunner.query(
      `CREATE TABLE "identities" ("fingerprint" varchar(64) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "enrollmentId" varchar(64) NOT NULL, "userEnrollment" boolean NOT NULL, "source" varchar(16) NOT NULL, "updatedAt" datetime NOT NULL)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "identities"`);
    await queryRunner.query(`DROP INDEX "enrollments_udid_status"`);
    await queryRunner.query(`DROP TABLE "enrollments"`);
    await queryRunner.query(`DROP INDEX "commands_enrollment_state"`);
    await queryRunner.query(`DROP INDEX "commands_udid_state"`);
    await queryRunner.query(`DROP INDEX "commands_command_uuid"`);
    await queryRunner.query(`DROP INDEX "commands_state_updated_at"`);
    await queryRunner.query(`DROP TABLE "commands"`);
    await queryRunner.query(`DROP INDEX "inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "inbox_messages"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "outbox_messages"`);
  }
}
