import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull, QueryFailedError } from 'typeorm';

import { SerialLanes } from '@turnaround/platform';

import { SealedToken } from '../domain/token-sealing.js';
import { planRemove, planReplace, VersionHead } from '../domain/version-rules.js';
import { EscrowAuditEntity, TokenVersionEntity } from './escrow.entities.js';

/** Who asked, why, and through which message; written to the audit table. */
export interface AccessRecord {
  requestedBy: string;
  reason: string;
  source: string;
  messageId: string;
  correlationId?: string;
}

export interface IncomingToken {
  fingerprint: Buffer;
  /** Seals the token for the version the transaction chose. */
  sealAs(version: number): SealedToken;
}

export type EscrowOutcome =
  | { changed: true; version: number; retired: number | null; escrowedAt: Date }
  | { changed: false; version: number };

export type ClearOutcome = { cleared: true; version: number; clearedAt: Date } | { cleared: false };

export interface SealedVersion {
  version: number;
  escrowedAt: Date;
  sealed: SealedToken;
}

export interface VersionInForce {
  version: number;
  escrowedAt: Date;
}

/** Someone else retired the version this transaction read; the transaction starts again. */
class WriteConflictError extends Error {
  readonly code = 'ESCROW.WRITE_CONFLICT';
}

// Enough for two writers racing on one device; a third loss in a row is a real fault.
const MAX_ATTEMPTS = 3;
const CONFLICT_CODES = new Set(['23505', '40001', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_BUSY']);

/** Every table of the escrow service, behind one class; each method is one transaction. */
@Injectable()
export class EscrowRepository {
  private readonly lanes = new SerialLanes();
  private readonly oneConnection: boolean;

  constructor(@InjectDataSource('escrow') private readonly dataSource: DataSource) {
    // TypeORM runs every better-sqlite3 query on one shared connection, so two transactions at
    // once would interleave on it: SQLite work goes one at a time. PostgreSQL has a pool; there
    // only one device's work is queued, which spares the unique indexes most retries.
    this.oneConnection = dataSource.options.type === 'better-sqlite3';
  }

  async escrow(
    udid: string,
    incoming: IncomingToken,
    access: AccessRecord,
  ): Promise<EscrowOutcome> {
    return this.transaction(udid, async (manager) => {
      const lastVersion = await manager.maximum(TokenVersionEntity, 'version', { udid });
      const head = { current: await this.currentOf(manager, udid), lastVersion: lastVersion ?? 0 };
      const plan = planReplace(head, incoming.fingerprint);
      if (plan.action === 'repeat') {
        await this.audit(manager, udid, access, {
          action: 'repeat',
          version: plan.version,
          found: true,
        });

        return { changed: false, version: plan.version };
      }
      const escrowedAt = new Date();
      if (plan.retires !== null) {
        await this.retire(manager, udid, plan.retires, 'replaced', escrowedAt);
      }
      const sealed = incoming.sealAs(plan.version);
      await manager.insert(TokenVersionEntity, {
        id: randomUUID(),
        udid,
        version: plan.version,
        iv: sealed.iv.toString('base64'),
        ciphertext: sealed.ciphertext.toString('base64'),
        authTag: sealed.authTag.toString('base64'),
        fingerprint: incoming.fingerprint.toString('base64'),
        escrowedAt,
        retiredAt: null,
        retiredBecause: null,
      });
      await this.audit(manager, udid, access, {
        action: 'store',
        version: plan.version,
        found: plan.retires !== null,
      });

      return { changed: true, version: plan.version, retired: plan.retires, escrowedAt };
    });
  }

  /**
   * Retires the version in force and erases the sealed material of every version of the device:
   * the device asked for its token to be removed, so no copy is kept. Version rows stay as history.
   */
  async clear(udid: string, access: AccessRecord): Promise<ClearOutcome> {
    return this.transaction(udid, async (manager) => {
      const plan = planRemove({ current: await this.currentOf(manager, udid) });
      if (plan.action === 'nothing-to-clear') {
        await this.audit(manager, udid, access, { action: 'clear', version: null, found: false });

        return { cleared: false };
      }
      const clearedAt = new Date();
      await this.retire(manager, udid, plan.retires, 'removed', clearedAt);
      await manager.update(
        TokenVersionEntity,
        { udid },
        { iv: null, ciphertext: null, authTag: null, fingerprint: null },
      );
      await this.audit(manager, udid, access, {
        action: 'clear',
        version: plan.retires,
        found: true,
      });

      return { cleared: true, version: plan.retires, clearedAt };
    });
  }

  /** The sealed version in force, or null; the read is audited in the same transaction. */
  async fetch(udid: string, access: AccessRecord): Promise<SealedVersion | null> {
    return this.transaction(udid, async (manager) => {
      const row = await this.inForceRow(manager, udid);
      await this.audit(manager, udid, access, {
        action: 'fetch',
        version: row?.version ?? null,
        found: row !== null,
      });
      if (!row) {
        return null;
      }

      return {
        version: row.version,
        escrowedAt: row.escrowedAt,
        sealed: {
          iv: Buffer.from(row.iv ?? '', 'base64'),
          ciphertext: Buffer.from(row.ciphertext ?? '', 'base64'),
          authTag: Buffer.from(row.authTag ?? '', 'base64'),
        },
      };
    });
  }

  /** Which version is in force, without its sealed material; not audited (reveals no value). */
  async inForce(udid: string): Promise<VersionInForce | null> {
    return this.lanes.run(this.laneOf(udid), async () => {
      const row = await this.dataSource.manager.findOneBy(TokenVersionEntity, {
        udid,
        retiredAt: IsNull(),
      });

      return row ? { version: row.version, escrowedAt: row.escrowedAt } : null;
    });
  }

  private async transaction<T>(
    udid: string,
    work: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.lanes.run(this.laneOf(udid), () => this.dataSource.transaction(work));
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isWriteConflict(error)) {
          throw error;
        }
      }
    }
  }

  private laneOf(udid: string): string {
    return this.oneConnection ? '' : udid;
  }

  private async inForceRow(
    manager: EntityManager,
    udid: string,
  ): Promise<TokenVersionEntity | null> {
    return manager.findOneBy(TokenVersionEntity, { udid, retiredAt: IsNull() });
  }

  private async currentOf(manager: EntityManager, udid: string): Promise<VersionHead['current']> {
    const row = await this.inForceRow(manager, udid);

    return (
      row && { version: row.version, fingerprint: Buffer.from(row.fingerprint ?? '', 'base64') }
    );
  }

  private async retire(
    manager: EntityManager,
    udid: string,
    version: number,
    because: 'replaced' | 'removed',
    at: Date,
  ): Promise<void> {
    const result = await manager.update(
      TokenVersionEntity,
      { udid, version, retiredAt: IsNull() },
      { retiredAt: at, retiredBecause: because },
    );
    if (result.affected !== 1) {
      throw new WriteConflictError(`version ${version} of ${udid} was retired meanwhile`);
    }
  }

  private async audit(
    manager: EntityManager,
    udid: string,
    access: AccessRecord,
    entry: Pick<EscrowAuditEntity, 'action' | 'version' | 'found'>,
  ): Promise<void> {
    await manager.insert(EscrowAuditEntity, {
      id: randomUUID(),
      udid,
      ...entry,
      requestedBy: access.requestedBy,
      reason: access.reason,
      source: access.source,
      messageId: access.messageId,
      correlationId: access.correlationId ?? null,
      at: new Date(),
    });
  }
}

function isWriteConflict(error: unknown): boolean {
  if (error instanceof WriteConflictError) {
    return true;
  }
  const code = (error instanceof QueryFailedError ? error.driverError : undefined) as
    { code?: unknown } | undefined;

  return typeof code?.code === 'string' && CONFLICT_CODES.has(code.code);
}
