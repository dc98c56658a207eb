// Written by `npm run migrations:generate -- ProfileAttachment` from the commands entities
// (SQLite), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ProfileAttachment1796424811664 implements MigrationInterface {
  name = 'ProfileAttachment1796424811664';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "commands_enrollment_state"`);
    await queryRunner.query(`DROP INDEX "commands_udid_state"`);
    await queryRunner.query(`DROP INDEX "commands_command_uuid"`);
    await queryRunner.query(`DROP INDEX "commands_state_updated_at"`);
    await queryRunner.query(
      `CREATE TABLE "temporary_commands" ("enrollmentId" varchar(64) NOT NULL, "commandUuid" varchar(255) NOT NULL, "udid" varchar(64) NOT NULL, "requestType" varchar(128) NOT NULL, "body" text NOT NULL, "bootstrapTokenReason" text, "returnToServiceProfilesCycleId" varchar(255), "whileAwaitingConfiguration" boolean NOT NULL DEFAULT (0), "sequence" integer NOT NULL, "state" varchar(16) NOT NULL, "deliveries" integer NOT NULL, "notNowSessionId" varchar(64), "correlationId" varchar(255), "queuedAt" datetime NOT NULL, "lastDeliveredAt" datetime, "lastReportAt" datetime, "updatedAt" datetime NOT NULL, "profileCycleId" varchar(255), "profileSource" varchar(16), "profileName" text, "profileDigest" varchar(64), PRIMARY KEY ("enrollmentId", "commandUuid"))`,
    );
    await queryRunner.query(
      `INSERT INTO "temporary_commands"("enrollmentId", "commandUuid", "udid", "requestType", "body", "bootstrapTokenReason", "returnToServiceProfilesCycleId", "whileAwaitingConfiguration", "sequence", "state", "deliveries", "notNowSessionId", "correlationId", "queuedAt", "lastDeliveredAt", "lastReportAt", "updatedAt") SELECT "enrollmentId", "commandUuid", "udid", "requestType", "body", "bootstrapTokenReason", "returnToServiceProfilesCycleId", "whileAwaitingConfiguration", "sequence", "state", "deliveries", "notNowSessionId", "correlationId", "queuedAt", "lastDeliveredAt", "lastReportAt", "updatedAt" FROM "commands"`,
    );
    await queryRunner.query(`DROP TABLE "commands"`);
    await queryRunner.query(`ALTER TABLE "temporary_commands" RENAME TO "commands"`);
    await queryRunner.query(
      `CREATE INDEX "commands_enrollment_state" ON "commands" ("enrollmentId", "state") `,
    );
    await queryRunner.query(`CREATE INDEX "commands_udid_state" ON "commands" ("udid", "state") `);
    await queryRunner.query(`CREATE INDEX "commands_command_uuid" ON "commands" ("commandUuid") `);
    await queryRunner.query(
      `CREATE INDEX "commands_state_updated_at" ON "commands" ("state", "updatedAt") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "commands_state_updated_at"`);
    await queryRunner.query(`DROP INDEX "commands_command_uuid"`);
    await queryRunner.query(`DROP INDEX "commands_udid_state"`);
    await queryRunner.query(`DROP INDEX "commands_enrollment_state"`);
    await queryRunner.query(`ALTER TABLE "commands" RENAME TO "temporary_commands"`);
    await queryRunner.query(
      `CREATE TABLE "commands" ("enrollmentId" varchar(64) NOT NULL, "commandUuid" varchar(255) NOT NULL, "udid" varchar(64) NOT NULL, "requestType" varchar(128) NOT NULL, "body" text NOT NULL, "bootstrapTokenReason" text, "returnToServiceProfilesCycleId" varchar(255), "whileAwaitingConfiguration" boolean NOT NULL DEFAULT (0), "sequence" integer NOT NULL, "state" varchar(16) NOT NULL, "deliveries" integer NOT NULL, "notNowSessionId" varchar(64), "correlationId" varchar(255), "queuedAt" datetime NOT NULL, "lastDeliveredAt" datetime, "lastReportAt" datetime, "updatedAt" datetime NOT NULL, PRIMARY KEY ("enrollmentId", "commandUuid"))`,
    );
    await queryRunner.query(
      `INSERT INTO "commands"("enrollmentId", "commandUuid", "udid", "requestType", "body", "bootstrapTokenReason", "returnToServiceProfilesCycleId", "whileAwaitingConfiguration", "sequence", "state", "deliveries", "notNowSessionId", "correlationId", "queuedAt", "lastDeliveredAt", "lastReportAt", "updatedAt") SELECT "enrollmentId", "commandUuid", "udid", "requestType", "body", "bootstrapTokenReason", "returnToServiceProfilesCycleId", "whileAwaitingConfiguration", "sequence", "state", "deliveries", "notNowSessionId", "correlationId", "queuedAt", "lastDeliveredAt", "lastReportAt", "updatedAt" FROM "temporary_commands"`,
    );
    await queryRunner.query(`DROP TABLE "temporary_commands"`);
    await queryRunner.query(
      `CREATE INDEX "commands_state_updated_at" ON "commands" ("state", "updatedAt") `,
    );
    await queryRunner.query(`CREATE INDEX "commands_command_uuid" ON "commands" ("commandUuid") `);
    await queryRunner.query(`CREATE INDEX "commands_udid_state" ON "commands" ("udid", "state") `);
    await queryRunner.query(
      `CREATE INDEX "commands_enrollment_state" ON "commands" ("enrollmentId", "state") `,
    );
  }
}
