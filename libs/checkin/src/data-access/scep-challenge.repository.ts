import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, IsNull, LessThan } from 'typeorm';

import { DataGate } from '@turnaround/platform';

import type { ScepChallengeRecord, ScepChallengeUse } from '../domain/scep-challenge-rules.js';
import { ScepChallengeEntity } from './checkin.entities.js';

/** The SCEP challenges of issued enrollment profiles, by the hash of the challenge. */
@Injectable()
export class ScepChallengeRepository {
  private readonly gate: DataGate;

  constructor(@InjectDataSource('checkin') dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  async create(challengeHash: string, expiresAt: Date): Promise<void> {
    await this.gate.run(() =>
      this.gate.repository(ScepChallengeEntity).insert({
        challengeHash,
        createdAt: new Date(),
        expiresAt,
        usedAt: null,
        transactionId: null,
        requestHash: null,
        certificate: null,
      }),
    );
  }

  async find(challengeHash: string): Promise<ScepChallengeRecord | null> {
    const row = await this.gate.run(() =>
      this.gate.repository(ScepChallengeEntity).findOneBy({ challengeHash }),
    );

    return row
      ? {
          expiresAt: row.expiresAt,
          usedAt: row.usedAt,
          transactionId: row.transactionId,
          requestHash: row.requestHash,
          certificate: row.certificate === null ? null : Buffer.from(row.certificate, 'base64'),
        }
      : null;
  }

  /**
   * Records that the challenge bought `certificate`, if it is still unused: false when another
   * request used it first (two PKCSReqs with one challenge at once).
   */
  async consume(
    challengeHash: string,
    use: ScepChallengeUse,
    certificate: Buffer,
  ): Promise<boolean> {
    const result = await this.gate.run(() =>
      this.gate.repository(ScepChallengeEntity).update(
        { challengeHash, usedAt: IsNull() },
        {
          usedAt: new Date(),
          transactionId: use.transactionId,
          requestHash: use.requestHash,
          certificate: certificate.toString('base64'),
        },
      ),
    );

    return result.affected === 1;
  }

  /** Deletes at most `limit` challenges that expired before `before`; returns how many. */
  async purgeExpired(before: Date, limit: number): Promise<number> {
    return this.gate.run(async () => {
      const repository = this.gate.repository(ScepChallengeEntity);
      const old = await repository.find({
        select: { challengeHash: true },
        where: { expiresAt: LessThan(before) },
        order: { expiresAt: 'ASC' },
        take: limit,
      });
      if (old.length === 0) {
        return 0;
      }
      const result = await repository.delete({
        challengeHash: In(old.map((row) => row.challengeHash)),
      });

      return result.affected ?? 0;
    });
  }
}
