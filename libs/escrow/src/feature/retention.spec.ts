import { randomUUID } from 'node:crypto';

import { daysAgo, onEachDatabase, RETENTION_NOW } from '@turnaround/testing';

import { AuditRetentionRepository } from '../data-access/audit-retention.repository.js';
import {
  AuditAction,
  BypassCodeVersionEntity,
  EscrowAuditEntity,
  TokenVersionEntity,
} from '../data-access/escrow.entities.js';
import { ESCROW_SCHEMA } from '../data-access/migrations/escrow.schema.js';
import { EscrowRetentionService } from './retention.service.js';

const NOW = RETENTION_NOW;
const UDID = '00008120-000A1B2C3D4E5F60';

function version(udid: string, number: number, retiredAt: Date | null) {
  return {
    id: randomUUID(),
    udid,
    version: number,
    keyId: 'k1',
    wrappedKey: 'd3JhcHBlZA==',
    iv: 'aXY=',
    ciphertext: 'c2VhbGVk',
    authTag: 'dGFn',
    fingerprint: 'cHJpbnQ=',
    escrowedAt: daysAgo(500),
    retiredAt,
    retiredBecause: retiredAt ? ('replaced' as const) : null,
  };
}

function audit(
  name: string,
  secret: string,
  action: AuditAction,
  versionNumber: number | null,
  at: Date,
) {
  return {
    id: randomUUID(),
    udid: UDID,
    secret,
    action,
    version: versionNumber,
    found: true,
    outcome: null,
    requestedBy: 'device',
    reason: name,
    source: 'checkin',
    messageId: randomUUID(),
    correlationId: null,
    at,
  };
}

describe('the escrow service’s retention', () => {
  onEachDatabase(ESCROW_SCHEMA, (database) => {
    it('deletes audit rows older than the retention, except how each secret in force was stored', async () => {
      const { dataSource } = database;

      // Token version 2 is in force (1 was replaced); bypass code version 1 is in force.
      await dataSource
        .getRepository(TokenVersionEntity)
        .insert([version(UDID, 1, daysAgo(450)), version(UDID, 2, null)]);
      await dataSource.getRepository(BypassCodeVersionEntity).insert([version(UDID, 1, null)]);
      const token = 'bootstrap-token';
      const code = 'activation-lock-bypass-code';
      const rows = [
        audit('old store of the replaced token', token, 'store', 1, daysAgo(500)),
        audit('old store of the token in force', token, 'store', 2, daysAgo(450)),
        audit('old read of the token in force', token, 'fetch', 2, daysAgo(400)),
        audit('old store of the code in force', code, 'store', 1, daysAgo(420)),
        audit('old repeat of the code in force', code, 'repeat', 1, daysAgo(410)),
        audit('recent read', token, 'fetch', 2, daysAgo(364)),
        audit('recent unlock', code, 'unlock', 1, daysAgo(10)),
      ];
      await dataSource.getRepository(EscrowAuditEntity).insert(rows);
      const retention = new EscrowRetentionService(
        { auditRetentionDays: 365 },
        new AuditRetentionRepository(dataSource),
      );

      await expect(retention.purge(NOW)).resolves.toEqual({ auditRows: 3 });
      const left = await dataSource.getRepository(EscrowAuditEntity).find({ order: { at: 'ASC' } });
      expect(left.map((row) => row.reason)).toEqual([
        'old store of the token in force',
        'old store of the code in force',
        'recent read',
        'recent unlock',
      ]);

      // Once the token in force is replaced, the record of its storing goes at the next pass.
      await dataSource
        .getRepository(TokenVersionEntity)
        .update({ udid: UDID, version: 2 }, { retiredAt: daysAgo(1), retiredBecause: 'replaced' });
      await expect(retention.purge(NOW)).resolves.toEqual({ auditRows: 1 });
      expect(await dataSource.getRepository(TokenVersionEntity).count()).toBe(2);
    });
  });
});
