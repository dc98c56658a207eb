// Written by `npm run migrations:generate -- CycleLockChecked` from the provisioning entities
// (SQLite), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CycleLockChecked1796436111092 implements MigrationInterface {
  name = 'CycleLockChecked1796436111092';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "rts_cycles_udid_requested_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_state_deadline_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_state_release_due_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_ended_at"`);
    await queryRunner.query(
      `CREATE TABLE "temporary_rts_cycles" ("id" varchar(64) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "configurationId" varchar(64) NOT NULL, "configurationName" varchar(128) NOT NULL, "trigger" varchar(16) NOT NULL, "state" varchar(32) NOT NULL, "stalledIn" varchar(32), "reason" text, "enrollmentId" varchar(64) NOT NULL, "newEnrollmentId" varchar(64), "eraseCommandUuid" varchar(64), "releaseCommandUuid" varchar(64), "planSteps" text NOT NULL, "mdmProfileBecause" varchar(32), "preserveApps" boolean NOT NULL DEFAULT (0), "preservationDeclined" text, "snapshotCommandUuid" varchar(64), "lockCheckCommandUuid" varchar(64), "releaseHeld" boolean NOT NULL DEFAULT (0), "snapshotNotNows" integer NOT NULL DEFAULT (0), "snapshotApps" text, "snapshotStartedAt" datetime, "requestedAt" datetime NOT NULL, "eraseQueuedAt" datetime, "eraseAcknowledgedAt" datetime, "provisioningAt" datetime, "configuredAt" datetime, "returnedAt" datetime, "endedAt" datetime, "deadlineAt" datetime, "releaseDueAt" datetime, "updatedAt" datetime NOT NULL, "lockCheckedAt" datetime)`,
    );
    await queryRunner.query(
      `INSERT INTO "temporary_rts_cycles"("id", "udid", "configurationId", "configurationName", "trigger", "state", "stalledIn", "reason", "enrollmentId", "newEnrollmentId", "eraseCommandUuid", "releaseCommandUuid", "planSteps", "mdmProfileBecause", "preserveApps", "preservationDeclined", "snapshotCommandUuid", "lockCheckCommandUuid", "releaseHeld", "snapshotNotNows", "snapshotApps", "snapshotStartedAt", "requestedAt", "eraseQueuedAt", "eraseAcknowledgedAt", "provisioningAt", "configuredAt", "returnedAt", "endedAt", "deadlineAt", "releaseDueAt", "updatedAt") SELECT "id", "udid", "configurationId", "configurationName", "trigger", "state", "stalledIn", "reason", "enrollmentId", "newEnrollmentId", "eraseCommandUuid", "releaseCommandUuid", "planSteps", "mdmProfileBecause", "preserveApps", "preservationDeclined", "snapshotCommandUuid", "lockCheckCommandUuid", "releaseHeld", "snapshotNotNows", "snapshotApps", "snapshotStartedAt", "requestedAt", "eraseQueuedAt", "eraseAcknowledgedAt", "provisioningAt", "configuredAt", "returnedAt", "endedAt", "deadlineAt", "releaseDueAt", "updatedAt" FROM "rts_cycles"`,
    );
    await queryRunner.query(`DROP TABLE "rts_cycles"`);
    await queryRunner.query(`ALTER TABLE "temporary_rts_cycles" RENAME TO "rts_cycles"`);
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_udid_requested_at" ON "rts_cycles" ("udid", "requestedAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_state_deadline_at" ON "rts_cycles" ("state", "deadlineAt") `,
    );
    await queryRunner.query(
      `CREATE INDEX "rts_cycles_state_release_due_at" ON "rts_cycles" ("state", "releaseDueAt") `,
    );
    await queryRunner.query(`CREATE INDEX "rts_cycles_ended_at" ON "rts_cycles" ("endedAt") `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "rts_cycles_ended_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_state_release_due_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_state_deadline_at"`);
    await queryRunner.query(`DROP INDEX "rts_cycles_udid_requested_at"`);
    await queryRunner.query(`ALTER TABLE "rts_cycles" RENAME TO "temporary_rts_cycles"`);
    await queryRunner.query(
      `CREATE TABLE "rts_cycles" ("id" varchar(64) PRIMARY KEY NOT NULL, "udid" varchar(64) NOT NULL, "configurationId" varchar(64) NOT NULL, "configurationName" varchar(128) NOT NULL, "trigger" varchar(16) NOT NULL, "state" varchar(32) NOT NULL, "stalledIn" varchar(32), "reason" text, "enrollmentId" varchar(64) NOT NULL, "newEnrollmentId" varchar(64), "eraseCommandUuid" varchar(64), "releaseCommandUuid" varchar(64), "planSteps" text NOT NULL, "mdmProfileBecause" varchar(32), "preserveApps" boolean NOT NULL DEFAULT (0), "preservationDeclined" text, "snapshotCommandUuid" varchar(64), "lockCheckCommandUuid" varchar(64), "releaseHeld" boolean NOT NULL DEFAULT (0), "snapshotNotNows" integer NOT NULL DEFAULT (0), "snapshotApps" text, "snapshotStartedAt" datetime, "requestedAt" datetime NOT NULL, "eraseQueuedAt" datetime, "eraseAcknowledgedAt" datetime, "provisioningAt" datetime, "configuredAt" datetime, "returnedAt" datetime, "endedAt" datetime, "deadlineAt" datetime, "releaseDueAt" datetime, "updatedAt" datetime NOT NULL)`,
    );
    await queryRunner.query(
      `INSERT INTO "rts_cycles"("id", "udid", "configurationId", "configurationName", "trigger", "state", "stalledIn", "reason", "enrollmentId", "newEnrollmentId", "eraseCommandUuid", "releaseCommandUuid", "planSteps", "mdmProfileBecause", "preserveApps", "preservationDeclined", "snapshotCommandUuid", "lockCheckCommandUuid", "releaseHeld", "snapshotNotNows", "snapshotApps", "snapshotStartedAt", "requestedAt", "eraseQueuedAt", "eraseAcknowledgedAt", "provisioningAt", "configuredAt", "returnedAt", "endedAt", "deadlineAt", "releaseDueAt", "updatedAt") SELECT "id", "udid", "configurationId", "configurationName", "trigger", "state", "stalledIn", "reason", "enrollmentId", "newEnrollmentId", "eraseCommandUuid", "releaseCommandUuid", "planSteps", "mdmProfileBecause", "preserveApps", "preservationDeclined", "snapshotCommandUuid", "lockCheckCommandUuid", "releaseHeld", "snapshotNotNows", "snapshotApps", "snapshotStartedAt", "requestedAt", "eraseQueuedAt", "eraseAcknowledgedAt", "provisioningAt", "configuredAt", "returnedAt", "endedAt", "deadlineAt", "releaseDueAt", "updatedAt" FROM "temporary_rts_cycles"`,
    );
    await queryRunner.query(`DROP TABLE "temporary_rts_cycles"`);
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
  }
}
