// Written by `npm run migrations:generate -- ScepChallenges` from the checkin entities
// (PostgreSQL), then read over by hand.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ScepChallenges1796425445694 implements MigrationInterface {
  name = 'ScepChallenges1796425445694';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "checkin"."scep_challenges" ("challengeHash" character varying(64) NOT NULL, "createdAt" TIMESTAMP NOT NULL, "expiresAt" TIMESTAMP NOT NULL, "usedAt" TIMESTAMP, "transactionId" character varying(128), "requestHash" character varying(64), "certificate" text, CONSTRAINT "PK_97bc86041a4ca160fdc1d458134" PRIMARY KEY ("challengeHash"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "scep_challenges_expires_at" ON "checkin"."scep_challenges"  ("expiresAt") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "checkin"."scep_challenges_expires_at"`);
    await queryRunner.query(`DROP TABLE "checkin"."scep_challenges"`);
  }
}
