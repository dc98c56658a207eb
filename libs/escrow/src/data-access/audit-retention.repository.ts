import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource, EntityManager, EntityTarget } from 'typeorm';

import { DataGate } from '@turnaround/platform';

import type { SecretKind } from '../domain/secret-sealing.js';
import {
  BypassCodeVersionEntity,
  EscrowAuditEntity,
  SealedVersionRow,
  TokenVersionEntity,
} from './escrow.entities.js';

const VERSIONS: Record<SecretKind, EntityTarget<SealedVersionRow>> = {
  'bootstrap-token': TokenVersionEntity,
  'activation-lock-bypass-code': BypassCodeVersionEntity,
};

/** Removes old audit rows, except the record of how each secret still in force was stored. */
@Injectable()
export class AuditRetentionRepository {
  private readonly gate: DataGate;

  constructor(@InjectDataSource('escrow') dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  /**
   * Deletes up to `limit` audit rows written before `before`, oldest first. The `store` row of a
   * version still in force stays however old it is: it says who escrowed the secret that is
   * handed out today. It goes at a later pass once that version is retired.
   */
  async deleteBefore(before: Date, limit: number): Promise<number> {
    return this.gate.transaction(async (manager) => {
      const query = manager
        .createQueryBuilder(EscrowAuditEntity, 'audit')
        .select('audit.id', 'id')
        .where('audit.at < :before', { before })
        .andWhere(
          new Brackets((deletable) => {
            deletable.where("audit.action <> 'store'").orWhere(
              new Brackets((superseded) => {
                Object.entries(VERSIONS).forEach(([kind, table], index) => {
                  const condition = `NOT (audit.secret = :secret${index} AND EXISTS ${inForce(manager, table)})`;
                  if (index === 0) {
                    superseded.where(condition, { [`secret${index}`]: kind });
                  } else {
                    superseded.andWhere(condition, { [`secret${index}`]: kind });
                  }
                });
              }),
            );
          }),
        )
        .orderBy('audit.at', 'ASC')
        .limit(limit);
      const ids = (await query.getRawMany<{ id: string }>()).map((row) => row.id);
      if (ids.length === 0) {
        return 0;
      }
      await manager.delete(EscrowAuditEntity, ids);

      return ids.length;
    });
  }
}

/** The version an audit row names, if it is the device's version in force (outer alias `audit`). */
function inForce(manager: EntityManager, table: EntityTarget<SealedVersionRow>): string {
  return manager
    .createQueryBuilder()
    .subQuery()
    .select('1')
    .from(table, 'sealed')
    .where('sealed.udid = audit.udid')
    .andWhere('sealed.version = audit.version')
    .andWhere('sealed.retiredAt IS NULL')
    .getQuery();
}
