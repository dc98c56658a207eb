// Written by `npm run migrations:generate -- Initial` from the provisioning entities
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
      `CREATE TABLE "rts_configurations" ("id" varchar(64) PRIMARY KEY NOT NULL, "name" varchar(128) NOT NULL, "wifiProfile" text, "enrollmentProfile" text, "ade" text, "plan" text NOT NULL, "preserveApps" boolean NOT NULL DEFAULT (0), "preserveDataPlan" boolean NOT NULL DEFAULT (0), "temporarySessionTimeout" integer, "osPolicy" text, "createdAt" datetime NOT NULL, "updatedAt" datetime NOT NULL, CONSTRAINT "UQ_9d5bbe6c4e8461be26397f09f67" UNIQUE ("name"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "managed_devices" ("udid" varchar(64) PRIMARY KEY NOT NULL, "enrollmentId" varchar(64), "enrollmentStatus" varchar(16) NOT NULL, "serialNumber" varchar(64), "productName" varchar(64), "osVersion" varchar(32), "platform" varchar(16) NOT NULL, "userEnrollment" boolean NOT NULL, "awaitingConfiguration" boolean NOT NULL, "enrolledViaAde" boolean, "supervised" boolean, "activationLockEnabled" boolean, "currentCycleId" varchar(64), "releaseCommandUuid" varchar(64), "rtsConfigurationId" varchar(64), "inServiceSince" datetime, "enrolledAt" datetime NOT NULL, "updatedAt" datetime NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE TABLE "rts_cycles" ("id" varchar(64) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "configurationId" varchar(64) NOT NULL, "configurationName" varchar(128) NOT NULL, "trigger" varchar(16) NOT NULL, "state" varchar(32) NOT NULL, "stalledIn" varchar(32), "reason" text, "enrollmentId" varchar(64) NOT NULL, "newEnrollmentId" varchar(64), "eraseCommandUuid" varchar(64), "releaseCommandUuid" varchar(64), "planSteps" text NOT NULL, "mdmProfileBecause" varchar(32), "preserveApps" boolean NOT NULL DEFAULT (0), "preservationDeclined" text, "snapshotCommandUuid" varchar(64), "lockCheckCommandUuid" varchar(64), "releaseHeld" boolean NOT NULL DEFAULT (0), "snapshotNotNows" integer NOT NULL DEFAULT (0), "snapshotApps" text, "snapshotStartedAt" datetime, "requestedAt" datetime NOT NULL, "eraseQueuedAt" datetime, "eraseAcknowledgedAt" datetime, "provisioningAt" datetime, "configuredAt" datetime, "returnedAt" datetime, "endedAt" datetime, "deadlineAt" datetime, "releaseDueAt" datetime, "updatedAt" datetime NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "rts_cycles_ended_at" ON "rts_cycles" ("endedAt") `);
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_state_release_due_at" ON "rts_cycles" ("state", "releaseDueAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_state_deadline_at" ON "rts_cycles" ("state", "deadlineAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_udid_requested_at" ON "rts_cycles" ("udid", "requestedAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "rts_cycle_transitions" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "cycleId" varchar(64) NOT NULL, "fromState" varchar(32), "toState" varchar(32) NOT NULL, "reason" text, "at" datetime NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycle_transitions_cycle_id" ON "rts_cycle_transitions" ("cycleId") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "rts_cycle_transitions_cycle_id"`);
    await queryRunner.query(`DROP TABLE "rts_cycle_transitions"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_udid_requested_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_state_deadline_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_state_release_due_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_ended_at"`);
    await queryRunner.query(`DROP TABLE "rts_cycles"`);
    await queryRunner.query(`DROP TABLE "managed_devices"`);
    await queryRunner.query(`DROP TABLE "rts_configurations"`);
    await queryRunner.query(`DROP INDEX "inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "inbox_messages"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "outbox_messages"`);
  }
}
