import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DataSource,
  EntityManager,
  EntityTarget,
  IsNull,
  MoreThan,
  Not,
  QueryFailedError,
} from 'typeorm';

import { DataGate, SerialLanes } from '@turnaround/platform';

import {
  EnvelopeSeal,
  Rewrapped,
  SealedSecret,
  Sealing,
  SecretKind,
} from '../domain/secret-sealing.js';
import { planRemove, planReplace } from '../domain/version-rules.js';
import {
  AuditAction,
  BypassCodeVersionEntity,
  EscrowAuditEntity,
  SealedVersionRow,
  TokenVersionEntity,
} from './escrow.entities.js';

/** Who asked, why, and through which message; written to the audit table. */
export interface AccessRecord {
  requestedBy: string;
  reason: string;
  source: string;
  messageId: string;
  correlationId?: string;
}

/** A version as stored: its seal and the fingerprint of what it seals. */
export interface StoredVersion {
  version: number;
  sealed: SealedSecret;
  fingerprint: Buffer;
}

export interface IncomingSecret {
  /** Whether the incoming secret is the one `current` seals. */
  repeats(current: StoredVersion): boolean;
  /** Seals the secret for the version the transaction chose. */
  sealAs(version: number): Sealing;
}

export type EscrowOutcome =
  | { changed: true; version: number; retired: number | null; escrowedAt: Date }
  | { changed: false; version: number };

export type ClearOutcome = { cleared: true; version: number; clearedAt: Date } | { cleared: false };

export interface SealedVersion {
  version: number;
  escrowedAt: Date;
  sealed: SealedSecret;
}

export interface VersionInForce {
  version: number;
  escrowedAt: Date;
}

/** A row whose data key is not under the active key, as RewrapEscrowKeys pages through them. */
export interface RowToRewrap {
  id: string;
  udid: string;
  version: number;
}

/** Someone else retired or changed the row this transaction read; the transaction starts again. */
class WriteConflictError extends Error {
  readonly code = 'ESCROW.WRITE_CONFLICT';
}

// Enough for two writers racing on one device; a third loss in a row is a real fault.
const MAX_ATTEMPTS = 3;
const CONFLICT_CODES = new Set(['23505', '40001', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_BUSY']);
// The audit columns are varchar(255); PostgreSQL would refuse the whole transaction for more.
const AUDIT_TEXT_CHARS = 255;

const TABLES: Record<SecretKind, EntityTarget<SealedVersionRow>> = {
  'bootstrap-token': TokenVersionEntity,
  'activation-lock-bypass-code': BypassCodeVersionEntity,
};

/** Every table of the escrow service, behind one class; each method is one transaction. */
@Injectable()
export class EscrowRepository {
  private readonly lanes = new SerialLanes();
  private readonly oneConnection: boolean;
  private readonly gate: DataGate;

  constructor(@InjectDataSource('escrow') dataSource: DataSource) {
    // SQLite work goes one at a time through the data gate (one shared connection). PostgreSQL
    // has a pool; there only one device's work is queued, which spares the unique indexes most
    // retries.
    this.oneConnection = dataSource.options.type === 'better-sqlite3';
    this.gate = DataGate.of(dataSource);
  }

  /** Runs `work` as one transaction: every repository call and staged event inside it commit together. */
  unitOfWork<T>(work: () => Promise<T>): Promise<T> {
    if (this.gate.inTransaction) {
      return this.gate.transaction(() => work());
    }

    // Run whole again on a write conflict (a concurrent store or re-wrap of the same device): a
    // request has no redelivery to fall back on.
    return this.retryingConflicts(() => this.gate.transaction(() => work()));
  }

  private async retryingConflicts<T>(attemptOnce: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await attemptOnce();
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isWriteConflict(error)) {
          throw error;
        }
      }
    }
  }

  /** Adds a version of the secret, or records a repeat of the one in force. */
  async escrow(
    kind: SecretKind,
    udid: string,
    incoming: IncomingSecret,
    access: AccessRecord,
  ): Promise<EscrowOutcome> {
    const table = TABLES[kind];

    return this.transaction(udid, async (manager) => {
      const lastVersion = (await manager.maximum(table, 'version', { udid })) ?? 0;
      const row = await manager.findOneBy(table, { udid, retiredAt: IsNull() });
      const current = row && storedOf(row);
      const plan = planReplace(
        { current: row && { version: row.version }, lastVersion },
        current !== null && incoming.repeats(current),
      );
      if (plan.action === 'repeat') {
        await this.audit(manager, kind, udid, access, {
          action: 'repeat',
          version: plan.version,
          found: true,
        });

        return { changed: false, version: plan.version };
      }
      const escrowedAt = new Date();
      if (plan.retires !== null) {
        await this.retire(manager, table, udid, plan.retires, 'replaced', escrowedAt);
      }
      const { sealed, fingerprint } = incoming.sealAs(plan.version);
      await manager.insert(table, {
        id: randomUUID(),
        udid,
        version: plan.version,
        ...columnsOf(sealed),
        fingerprint: fingerprint.toString('base64'),
        escrowedAt,
        retiredAt: null,
        retiredBecause: null,
      });
      await this.audit(manager, kind, udid, access, {
        action: 'store',
        version: plan.version,
        found: plan.retires !== null,
      });

      return { changed: true, version: plan.version, retired: plan.retires, escrowedAt };
    });
  }

  /**
   * Retires the bootstrap token in force and erases the sealed material of every version of the
   * device: the device asked for its token to be removed, so no copy is kept. Version rows stay
   * as history.
   */
  async clearToken(udid: string, access: AccessRecord): Promise<ClearOutcome> {
    const kind = 'bootstrap-token';
    const table = TABLES[kind];

    return this.transaction(udid, async (manager) => {
      const row = await manager.findOneBy(table, { udid, retiredAt: IsNull() });
      const plan = planRemove({ current: row && { version: row.version } });
      if (plan.action === 'nothing-to-clear') {
        await this.audit(manager, kind, udid, access, {
          action: 'clear',
          version: null,
          found: false,
        });

        return { cleared: false };
      }
      const clearedAt = new Date();
      await this.retire(manager, table, udid, plan.retires, 'removed', clearedAt);
      await manager.update(
        table,
        { udid },
        {
          keyId: null,
          wrappedKey: null,
          iv: null,
          ciphertext: null,
          authTag: null,
          fingerprint: null,
        },
      );
      await this.audit(manager, kind, udid, access, {
        action: 'clear',
        version: plan.retires,
        found: true,
      });

      return { cleared: true, version: plan.retires, clearedAt };
    });
  }

  /** The sealed version in force, or null; the read is audited in the same transaction. */
  async fetch(kind: SecretKind, udid: string, access: AccessRecord): Promise<SealedVersion | null> {
    return this.transaction(udid, async (manager) => {
      const row = await manager.findOneBy(TABLES[kind], { udid, retiredAt: IsNull() });
      await this.audit(manager, kind, udid, access, {
        action: 'fetch',
        version: row?.version ?? null,
        found: row !== null,
      });
      if (!row) {
        return null;
      }

      return { version: row.version, escrowedAt: row.escrowedAt, sealed: sealOf(row) };
    });
  }

  /** Which version is in force, without its sealed material; not audited (reveals no value). */
  async inForce(kind: SecretKind, udid: string): Promise<VersionInForce | null> {
    return this.inLane(udid, async () => {
      const row = await this.gate.manager().findOneBy(TABLES[kind], {
        udid,
        retiredAt: IsNull(),
      });

      return row ? { version: row.version, escrowedAt: row.escrowedAt } : null;
    });
  }

  /** Records what an unlock attempt with the code in force came to. */
  async recordUnlock(
    udid: string,
    version: number,
    outcome: string,
    access: AccessRecord,
  ): Promise<void> {
    await this.transaction(udid, async (manager) => {
      await this.audit(manager, 'activation-lock-bypass-code', udid, access, {
        action: 'unlock',
        version,
        found: true,
        outcome,
      });
    });
  }

  /**
   * The next `limit` rows, in id order after `afterId`, that hold a secret whose data key is not
   * wrapped under `activeKeyId` (rows sealed before the key ring included).
   */
  async rowsToRewrap(
    kind: SecretKind,
    activeKeyId: string,
    afterId: string,
    limit: number,
  ): Promise<RowToRewrap[]> {
    const sealed = { id: MoreThan(afterId), ciphertext: Not(IsNull()) };
    const rows = await this.inLane('', () =>
      this.gate.manager().find(TABLES[kind], {
        select: { id: true, udid: true, version: true },
        where: [
          { ...sealed, keyId: IsNull() },
          { ...sealed, keyId: Not(activeKeyId) },
        ],
        order: { id: 'ASC' },
        take: limit,
      }),
    );

    return rows.map(({ id, udid, version }) => ({ id, udid, version }));
  }

  /**
   * Re-wraps one row in a transaction of its own, audited. False when there was nothing to do:
   * the row was removed or re-wrapped meanwhile.
   */
  async rewrap(
    kind: SecretKind,
    row: RowToRewrap,
    rewrapOf: (stored: StoredVersion) => Rewrapped | null,
    access: AccessRecord,
  ): Promise<boolean> {
    const table = TABLES[kind];

    return this.transaction(row.udid, async (manager) => {
      const found = await manager.findOneBy(table, { id: row.id, udid: row.udid });
      const stored = found && storedOf(found);
      const rewrapped = stored && rewrapOf(stored);
      if (!found || !rewrapped) {
        return false;
      }
      // Only if nothing changed the row since it was read (PostgreSQL runs other devices'
      // transactions meanwhile); otherwise the transaction runs again on what is there now.
      const result = await manager.update(
        table,
        { id: found.id, keyId: found.keyId ?? IsNull(), ciphertext: Not(IsNull()) },
        {
          ...columnsOf(rewrapped.sealed),
          ...(rewrapped.fingerprint
            ? { fingerprint: rewrapped.fingerprint.toString('base64') }
            : {}),
        },
      );
      if (result.affected !== 1) {
        throw new WriteConflictError(`row ${found.id} of ${found.udid} changed meanwhile`);
      }
      await this.audit(manager, kind, found.udid, access, {
        action: 'rewrap',
        version: found.version,
        found: true,
      });

      return true;
    });
  }

  private async transaction<T>(
    udid: string,
    work: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    // Inside a caller's unit of work (a handled message with its inbox row) the work joins it;
    // a write conflict there aborts the whole unit, which the message's redelivery retries.
    if (this.gate.inTransaction) {
      return this.gate.transaction(work);
    }
    return this.retryingConflicts(() => this.inLane(udid, () => this.gate.transaction(work)));
  }

  /**
   * One device's work at a time on PostgreSQL. On SQLite the gate already serialises everything,
   * and inside a unit of work a lane could wait on work that waits for the unit's own locks.
   */
  private inLane<T>(udid: string, work: () => Promise<T>): Promise<T> {
    return this.oneConnection || this.gate.inTransaction ? this.gate.run(work) : this.lanes.run(udid, work);
  }

  private async retire(
    manager: EntityManager,
    table: EntityTarget<SealedVersionRow>,
    udid: string,
    version: number,
    because: 'replaced' | 'removed',
    at: Date,
  ): Promise<void> {
    const result = await manager.update(
      table,
      { udid, version, retiredAt: IsNull() },
      { retiredAt: at, retiredBecause: because },
    );
    if (result.affected !== 1) {
      throw new WriteConflictError(`version ${version} of ${udid} was retired meanwhile`);
    }
  }

  private async audit(
    manager: EntityManager,
    kind: SecretKind,
    udid: string,
    access: AccessRecord,
    entry: { action: AuditAction; version: number | null; found: boolean; outcome?: string },
  ): Promise<void> {
    await manager.insert(EscrowAuditEntity, {
      id: randomUUID(),
      udid,
      secret: kind,
      action: entry.action,
      version: entry.version,
      found: entry.found,
      outcome: entry.outcome ?? null,
      requestedBy: access.requestedBy.slice(0, AUDIT_TEXT_CHARS),
      reason: access.reason.slice(0, AUDIT_TEXT_CHARS),
      source: access.source,
      messageId: access.messageId,
      correlationId: access.correlationId ?? null,
      at: new Date(),
    });
  }
}

/**
 * The seal of a row. No key id and no wrapped key: sealed before the key ring. A row with only one
 * of the two is damaged, and fails to open as a broken seal.
 */
function sealOf(row: SealedVersionRow): SealedSecret {
  const parts = {
    iv: Buffer.from(row.iv ?? '', 'base64'),
    ciphertext: Buffer.from(row.ciphertext ?? '', 'base64'),
    authTag: Buffer.from(row.authTag ?? '', 'base64'),
  };
  if (row.wrappedKey === null && row.keyId === null) {
    return { scheme: 'legacy', ...parts };
  }

  return {
    scheme: 'envelope',
    keyId: row.keyId ?? '',
    wrappedKey: Buffer.from(row.wrappedKey ?? '', 'base64'),
    ...parts,
  };
}

function storedOf(row: SealedVersionRow): StoredVersion {
  return {
    version: row.version,
    sealed: sealOf(row),
    fingerprint: Buffer.from(row.fingerprint ?? '', 'base64'),
  };
}

function columnsOf(
  sealed: EnvelopeSeal,
): Pick<SealedVersionRow, 'keyId' | 'wrappedKey' | 'iv' | 'ciphertext' | 'authTag'> {
  return {
    keyId: sealed.keyId,
    wrappedKey: sealed.wrappedKey.toString('base64'),
    iv: sealed.iv.toString('base64'),
    ciphertext: sealed.ciphertext.toString('base64'),
    authTag: sealed.authTag.toString('base64'),
  };
}

function isWriteConflict(error: unknown): boolean {
  if (error instanceof WriteConflictError) {
    return true;
  }
  const code = (error instanceof QueryFailedError ? error.driverError : undefined) as
    { code?: unknown } | undefined;

  return typeof code?.code === 'string' && CONFLICT_CODES.has(code.code);
}
