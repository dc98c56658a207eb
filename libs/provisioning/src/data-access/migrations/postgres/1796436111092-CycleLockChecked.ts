// Written by `npm run migrations:generate -- CycleLockChecked` from the provisioning entities
// (PostgreSQL), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CycleLockChecked1796436111092 implements MigrationInterface {
  name = 'CycleLockChecked1796436111092';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "provisioning"."rts_cycles" ADD "lockCheckedAt" TIMESTAMP`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "provisioning"."rts_cycles" DROP COLUMN "lockCheckedAt"`);
  }
}
