// Written by `npm run migrations:generate -- ProfileAttachment` from the commands entities
// (PostgreSQL), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ProfileAttachment1796424811664 implements MigrationInterface {
  name = 'ProfileAttachment1796424811664';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "commands"."commands" ADD "profileCycleId" character varying(255)`,
    );
    await queryRunner.query(
      `ALTER TABLE "commands"."commands" ADD "profileSource" character varying(16)`,
    );
    await queryRunner.query(`ALTER TABLE "commands"."commands" ADD "profileName" text`);
    await queryRunner.query(
      `ALTER TABLE "commands"."commands" ADD "profileDigest" character varying(64)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "commands"."commands" DROP COLUMN "profileDigest"`);
    await queryRunner.query(`ALTER TABLE "commands"."commands" DROP COLUMN "profileName"`);
    await queryRunner.query(`ALTER TABLE "commands"."commands" DROP COLUMN "profileSource"`);
    await queryRunner.query(`ALTER TABLE "commands"."commands" DROP COLUMN "profileCycleId"`);
  }
}
