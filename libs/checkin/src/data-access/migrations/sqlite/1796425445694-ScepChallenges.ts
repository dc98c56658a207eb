// Written by `npm run migrations:generate -- ScepChallenges` from the checkin entities
// (SQLite), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ScepChallenges1796425445694 implements MigrationInterface {
  name = 'ScepChallenges1796425445694';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "scep_challenges" ("challengeHash" varchar(64) PRIMARY KEY NOT NULL, "createdAt" datetime NOT NULL, "expiresAt" datetime NOT NULL, "usedAt" datetime, "transactionId" varchar(128), "requestHash" varchar(64), "certificate" text)`,
    );
    await queryRunner.query(
      `CREATE INDEX "scep_challenges_expires_at" ON "scep_challenges" ("expiresAt") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "scep_challenges_expires_at"`);
    await queryRunner.query(`DROP TABLE "scep_challenges"`);
  }
}
