// Written by `npm run migrations:generate -- Initial` from the checkin entities
// (PostgreSQL), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1796420200197 implements MigrationInterface {
  name = 'Initial1796420200197';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "checkin"."outbox_messages" ("seq" SERIAL NOT NULL, "messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "subject" character varying(128) NOT NULL, "envelope" text NOT NULL, "createdAt" TIMESTAMP NOT NULL, "failedAttempts" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_d24ca6550fc486f101fe4f8b021" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "outbox_messages_message_id" ON "checkin"."outbox_messages"  ("messageId") `,
    );
    await queryRunner.query(
      `CREATE INDEX "outbox_messages_created_at" ON "checkin"."outbox_messages"  ("createdAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "checkin"."inbox_messages" ("messageId" character varying(36) NOT NULL, "type" character varying(128) NOT NULL, "handledAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_58d8f77a9f5873332bab0a6cdee" PRIMARY KEY ("messageId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "inbox_messages_handled_at" ON "checkin"."inbox_messages"  ("handledAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "checkin"."devices" ("udid" character varying(64) NOT NULL, "serialNumber" character varying(64), "productName" character varying(64), "osVersion" character varying(32), "buildVersion" character varying(32), "currentEnrollmentId" character varying(64), "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_c5ac217dfb8cd39be0ca8ebda15" PRIMARY KEY ("udid"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "checkin"."enrollments" ("id" character varying(64) NOT NULL, "udid" character varying(64) NOT NULL, "status" character varying(16) NOT NULL, "userEnrollment" boolean NOT NULL, "awaitingConfiguration" boolean NOT NULL, "topic" character varying(255) NOT NULL, "pushToken" text, "pushMagic" text, "createdAt" TIMESTAMP NOT NULL, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_7c0f752f9fb68bf6ed7367ab00f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "enrollments_udid_status" ON "checkin"."enrollments"  ("udid", "status") `,
    );
    await queryRunner.query(
      `CREATE TABLE "checkin"."identities" ("fingerprint" character varying(64) NOT NULL, "udid" character varying(64) NOT NULL, "enrollmentId" character varying(64), "userEnrollment" boolean NOT NULL, "subject" character varying(255), "boundAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_dc228c3a44742146cc29f0f1cb1" PRIMARY KEY ("fingerprint"))`,
    );
    await queryRunner.query(`CREATE INDEX "identities_udid" ON "checkin"."identities"  ("udid") `);
    await queryRunner.query(
      `CREATE TABLE "checkin"."user_channels" ("id" character varying(320) NOT NULL, "udid" character varying(64) NOT NULL, "userKey" character varying(255) NOT NULL, "pushToken" text, "pushMagic" text, "updatedAt" TIMESTAMP NOT NULL, CONSTRAINT "PK_2a8ce798a5c5e04ac12aaeb9111" PRIMARY KEY ("id"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "checkin"."user_channels"`);
    await queryRunner.query(`DROP INDEX "checkin"."identities_udid"`);
    await queryRunner.query(`DROP TABLE "checkin"."identities"`);
    await queryRunner.query(`DROP INDEX "checkin"."enrollments_udid_status"`);
    await queryRunner.query(`DROP TABLE "checkin"."enrollments"`);
    await queryRunner.query(`DROP TABLE "checkin"."devices"`);
    await queryRunner.query(`DROP INDEX "checkin"."inbox_messages_handled_at"`);
    await queryRunner.query(`DROP TABLE "checkin"."inbox_messages"`);
    await queryRunner.query(`DROP INDEX "checkin"."outbox_messages_created_at"`);
    await queryRunner.query(`DROP INDEX "checkin"."outbox_messages_message_id"`);
    await queryRunner.query(`DROP TABLE "checkin"."outbox_messages"`);
  }
}
