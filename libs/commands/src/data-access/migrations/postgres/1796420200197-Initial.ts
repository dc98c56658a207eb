// Written by `npm run migrations:generate -- Initial` from the commands entities
// (PostgreSQL), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1796420200197 implements MigrationInterface {
  name = 'Initial1796420200197';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "commands"."outbox_messages" ("seq" SERIAL NOT NULL, "messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "subject" character varying(128) NOT NULL, "envelope" text NOT NULL, "createdAt" TIMESTAMP NOT NULL, "failedAttempts" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_d24ca6550fc486f101fe4f8b021" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "outbox_messages_message_id" ON "commands"."outbox_messages"  ("messageId") `,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_messages_created_at" ON "commands"."outbox_messages"  ("createdAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "commands"."inbox_messages" ("messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "handledAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_58d8f77a9f5873332bab0a6cdee" PRIMARY KEY ("messageId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "inbox_messages_handled_at" ON "commands"."inbox_messages"  ("handledAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "commands"."commands" ("enrollmentId" character varying(64) NOT NULL, "commandUuid" character varying(255) NOT NULL, "udid" character varying(64) NOT NULL, "requestType" character varying(128) NOT NULL, "body" text NOT NULL, "bootstrapTokenReason" text, "returnToServiceProfilesCycleId" character varying(255), "whileAwaitingConfiguration" boolean NOT NULL DEFAULT false, "sequence" integer NOT NULL, "state" character varying(16) NOT NULL, "deliveries" integer NOT NULL, "notNowSessionId" character varying(64), "correlationId" character varying(255), "queuedAt" TIMESTAMP NOT NULL, "lastDeliveredAt" TIMESTAMP, "lastReportAt" TIMESTAMP, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_bb68a1dfddacb09d01b82475165" PRIMARY KEY ("enrollmentId", "commandUuid"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "commands_state_updated_at" ON "commands"."commands"  ("state", "updatedAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "commands_command_uuid" ON "commands"."commands"  ("commandUuid") `,
    );
    await queryRunner.query(
      `CREATE INDEX "commands_udid_state" ON "commands"."commands"  ("udid", "state") `,
    );
    await queryRunner.query(
      `CREATE INDEX "commands_enrollment_state" ON "commands"."commands"  ("enrollmentId", "state") `,
    );
    await queryRunner.query(
      `CREATE TABLE "commands"."enrollments" ("enrollmentId" character varying(64) NOT NULL, "udid" character varying(64) NOT NULL, "status" character varying(16) NOT NULL, "sessionId" character varying(64), "sessionStartedAt" TIMESTAMP, "deviceConfiguredAt" TIMESTAMP, "lastSeenAt" TIMESTAMP, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_7591b3575c9e191aa1079e20719" PRIMARY KEY ("enrollmentId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "enrollments_udid_status" ON "commands"."enrollments"  ("udid", "status") `,
    );
    await queryRunner.query(
      `CREATE TABLE "commands"."identities" ("fingerprint" character varying(64) NOT NULL, "udid" character varying(64) NOT NULL, "enrollmentId" character varying(64) NOT NULL, "userEnrollment" boolean NOT NULL, "source" character varying(16) NOT NULL, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_dc228c3a44742146cc29f0f1cb1" PRIMARY KEY ("fingerprint"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "commands"."identities"`);
    await queryRunner.query(`DROP INDEX "commands"."enrollments_udid_status"`);
    await queryRunner.query(`DROP TABLE "commands"."enrollments"`);
    await queryRunner.query(`DROP INDEX "commands"."commands_enrollment_state"`);
    await queryRunner.query(`DROP INDEX "commands"."commands_udid_state"`);
    await queryRunner.query(`DROP INDEX "commands"."commands_command_uuid"`);
    await queryRunner.query(`DROP INDEX "commands"."commands_state_updated_at"`);
    await queryRunner.query(`DROP TABLE "commands"."commands"`);
    await queryRunner.query(`DROP INDEX "commands"."inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "commands"."inbox_messages"`);
    await queryRunner.query(`DROP INDEX "commands"."outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "commands"."outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "commands"."outbox_messages"`);
  }
}
