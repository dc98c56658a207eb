// Written by `npm run migrations:generate -- Initial` from the checkin entities
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
      `CREATE TABLE "devices" ("udid" varchar(64) PRIMARY KEY NOT NULL, "serialNumber" varchar(64), "productName" varchar(64), "osVersion" varchar(32), "buildVersion" varchar(32), "currentEnrollmentId" varchar(64), "updatedAt" datetime NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE TABLE "enrollments" ("id" varchar(64) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "status" varchar(16) NOT NULL, "userEnrollment" boolean NOT NULL, "awaitingConfiguration" boolean NOT NULL, "topic" varchar(255) NOT NULL, "pushToken" text, "pushMagic" text, "createdAt" datetime NOT NULL, "updatedAt" datetime NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE INDEX "enrollments_udid_status" ON "enrollments" ("udid", "status") `,
    );
    await queryRunner.query(
      `CREATE TABLE "identities" ("fingerprint" varchar(64) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "enrollmentId" varchar(64), "userEnrollment" boolean NOT NULL, "subject" varchar(255), "boundAt" datetime NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "identities_udid" ON "identities" ("udid") `);
    await queryRunner.query(
      `CREATE TABLE "user_channels" ("id" varchar(320) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "userKey" varchar(255) NOT NULL, "pushToken" text, "pushMagic" text, "updatedAt" datetime NOT NULL)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "user_channels"`);
    await queryRunner.query(`DROP INDEX "identities_udid"`);
    await queryRunner.query(`DROP TABLE "identities"`);
    await queryRunner.query(`DROP INDEX "enrollments_udid_status"`);
    await queryRunner.query(`DROP TABLE "enrollments"`);
    await queryRunner.query(`DROP TABLE "devices"`);
    await queryRunner.query(`DROP INDEX "inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "inbox_messages"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "outbox_messages"`);
  }
}
