// Written by `npm run migrations:generate -- Initial` from the provisioning entities
// (PostgreSQL), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1796420200197 implements MigrationInterface {
  name = 'Initial1796420200197';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "provisioning"."outbox_messages" ("seq" SERIAL NOT NULL, "messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "subject" character varying(128) NOT NULL, "envelope" text NOT NULL, "createdAt" TIMESTAMP NOT NULL, "failedAttempts" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_d24ca6550fc486f101fe4f8b021" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "outbox_messages_message_id" ON "provisioning"."outbox_messages"  ("messageId") `,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_messages_created_at" ON "provisioning"."outbox_messages"  ("createdAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "provisioning"."inbox_messages" ("messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "handledAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_58d8f77a9f5873332bab0a6cdee" PRIMARY KEY ("messageId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "inbox_messages_handled_at" ON "provisioning"."inbox_messages"  ("handledAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "provisioning"."rts_configurations" ("id" character varying(64) NOT NULL, "name" character varying(128) NOT NULL, "wifiProfile" text, "enrollmentProfile" text, "ade" text, "plan" text NOT NULL, "preserveApps" boolean NOT NULL DEFAULT false, "preserveDataPlan" boolean NOT NULL DEFAULT false, "temporarySessionTimeout" integer, "osPolicy" text, "createdAt" TIMESTAMP NOT NULL, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "UQ_9d5bbe6c4e8461be26397f09f67" UNIQUE ("name"), CONSTRAINT "PK_6d6b5d31bc194c09ebc58870d90" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "provisioning"."managed_devices" ("udid" character varying(64) NOT NULL, "enrollmentId" character varying(64), "enrollmentStatus" character varying(16) NOT NULL, "serialNumber" character varying(64), "productName" character varying(64), "osVersion" character varying(32), "platform" character varying(16) NOT NULL, "userEnrollment" boolean NOT NULL, "awaitingConfiguration" boolean NOT NULL, "enrolledViaAde" boolean, "supervised" boolean, "activationLockEnabled" boolean, "currentCycleId" character varying(64), "releaseCommandUuid" character varying(64), "rtsConfigurationId" character varying(64), "inServiceSince" TIMESTAMP, "enrolledAt" TIMESTAMP NOT NULL, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_09f35b450aa2dd743b014a48155" PRIMARY KEY ("udid"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "provisioning"."rts_cycles" ("id" character varying(64) NOT NULL, "udid" character varying(64) NOT NULL, "configurationId" character varying(64) NOT NULL, "configurationName" character varying(128) NOT NULL, "trigger" character varying(16) NOT NULL, "state" character varying(32) NOT NULL, "stalledIn" character varying(32), "reason" text, "enrollmentId" character varying(64) NOT NULL, "newEnrollmentId" character varying(64), "eraseCommandUuid" character varying(64), "releaseCommandUuid" character varying(64), "planSteps" text NOT NULL, "mdmProfileBecause" character varying(32), "preserveApps" boolean NOT NULL DEFAULT false, "preservationDeclined" text, "snapshotCommandUuid" character varying(64), "lockCheckCommandUuid" character varying(64), "releaseHeld" boolean NOT NULL DEFAULT false, "snapshotNotNows" integer NOT NULL DEFAULT '0', "snapshotApps" text, "snapshotStartedAt" TIMESTAMP, "requestedAt" TIMESTAMP NOT NULL, "eraseQueuedAt" TIMESTAMP, "eraseAcknowledgedAt" TIMESTAMP, "provisioningAt" TIMESTAMP, "configuredAt" TIMESTAMP, "returnedAt" TIMESTAMP, "endedAt" TIMESTAMP, "deadlineAt" TIMESTAMP, "releaseDueAt" TIMESTAMP, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_ed66bfb7f5efae3c1707bf5abf5" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_ended_at" ON "provisioning"."rts_cycles"  ("endedAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_state_release_due_at" ON "provisioning"."rts_cycles"  ("state", "releaseDueAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_state_deadline_at" ON "provisioning"."rts_cycles"  ("state", "deadlineAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_udid_requested_at" ON "provisioning"."rts_cycles"  ("udid", "requestedAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "provisioning"."rts_cycle_transitions" ("id" SERIAL NOT NULL, "cycleId" character varying(64) NOT NULL, "fromState" character varying(32), "toState" character varying(32) NOT NULL, "reason" text, "at" TIMESTAMP NOT NULL, CONSTRAINT "PK_d4bb1b9f5f2863933058e5d3d30" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycle_transitions_cycle_id" ON "provisioning"."rts_cycle_transitions"  ("cycleId") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "provisioning"."rts_cycle_transitions_cycle_id"`);
    await queryRunner.query(`DROP TABLE "provisioning"."rts_cycle_transitions"`);
    await queryRunner.query(`DROP INDEX "provisioning"."rts_cycles_udid_requested_at"`);
    await queryRunner.query(`DROP INDEX "provisioning"."rts_cycles_state_deadline_at"`);
    await queryRunner.query(`DROP INDEX "provisioning"."rts_cycles_state_release_due_at"`);
    await queryRunner.query(`DROP INDEX "provisioning"."rts_cycles_ended_at"`);
    await queryRunner.query(`DROP TABLE "provisioning"."rts_cycles"`);
    await queryRunner.query(`DROP TABLE "provisioning"."managed_devices"`);
    await queryRunner.query(`DROP TABLE "provisioning"."rts_configurations"`);
    await queryRunner.query(`DROP INDEX "provisioning"."inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "provisioning"."inbox_messages"`);
    await queryRunner.query(`DROP INDEX "provisioning"."outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "provisioning"."outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "provisioning"."outbox_messages"`);
  }
}
