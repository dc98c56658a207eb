import { createHash } from 'node:crypto';

import pg from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { In } from 'typeorm';

import { Envelope, ServiceName } from '@turnaround/contracts';
import { createLogger, DataGate, OutboxMessageEntity } from '@turnaround/platform';

import { OUTBOX_CHANNEL, TransactionalOutbox } from './outbox.js';
import { MessageTransport } from './transport.js';

export interface OutboxRelayOptions {
  /** Rows published per round. */
  batchSize?: number;
  /** How often an idle relay looks anyway (rows from a crashed writer, a lost notification). */
  pollMs?: number;
}

/** What a round publishes of an outbox row. */
interface OutboxRow {
  seq: number;
  messageId: string;
  type: string;
  subject: string;
  envelope: string;
}

export interface OutboxBacklog {
  service: ServiceName;
  pending: number;
  oldestAgeSeconds: number;
}

/**
 * Publishes one service's outbox to the bus, in `seq` order, each message confirmed by the broker
 * before its row is deleted. A crash between the confirm and the delete publishes that message
 * again on restart; consumers' inboxes make the repeat harmless.
 *
 * On PostgreSQL any number of relays may run for a service (in each replica, or as the separate
 * relay process): an advisory lock held for the relay's session lets exactly one publish, which
 * keeps the order, and the next takes over when that session ends.
 */
export class OutboxRelay {
  private readonly logger = createLogger('OutboxRelay');
  private readonly gate: DataGate;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private wake?: () => void;
  /** Set by every wake-up, also one that comes while a round runs. */
  private poked = false;
  private running?: Promise<void>;
  private stopping = false;
  private leader = false;
  private lockRunner?: QueryRunner;
  private listener?: pg.Client;
  private unsubscribe?: () => void;
  private failing = false;
  /** When to try LISTEN again after it failed (polling meanwhile). */
  private listenAgainAt = 0;
  private roundText?: string;
  /** Rounds in progress, for `drain()`. */
  private round: Promise<number> = Promise.resolve(0);

  constructor(
    readonly service: ServiceName,
    readonly dataSource: DataSource,
    private readonly transport: MessageTransport,
    options: OutboxRelayOptions = {},
  ) {
    this.gate = DataGate.of(dataSource);
    this.batchSize = options.batchSize ?? 200;
    this.pollMs = options.pollMs ?? 500;
  }

  /** Starts publishing; `outbox` (same process) wakes the relay on every commit that staged. */
  start(outbox?: TransactionalOutbox): void {
    if (this.running) {
      return;
    }
    this.unsubscribe = outbox?.onStaged(() => this.poke());
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.wake?.();
    await this.running;
    await this.listener?.end().catch(() => undefined);
    await this.lockRunner?.release().catch(() => undefined);
    this.listener = undefined;
    this.lockRunner = undefined;
  }

  /** Whether this relay currently holds the right to publish. */
  get isLeader(): boolean {
    return this.leader;
  }

  /**
   * Publishes everything staged so far, if this relay leads; resolves with how many went out.
   * Tests and the in-process bus use it to wait until the system is quiet.
   */
  async drain(): Promise<number> {
    return this.publishRounds(true);
  }

  private poke(): void {
    this.poked = true;
    this.wake?.();
  }

  /**
   * Rounds until one sends nothing. `untilEmpty` false (the relay's own loop): also stops after a
   * round that read less than a batch when nothing was staged meanwhile, which saves the read of
   * an empty outbox after each wake-up; a later stage wakes the loop again, and the poll covers
   * the rest.
   */
  private async publishRounds(untilEmpty: boolean): Promise<number> {
    let total = 0;
    for (;;) {
      this.poked = false;
      const previous = this.round;
      const run = async (): Promise<number> => {
        await this.confirmLeadership();

        return this.leader && !this.stopping ? this.publishRound() : 0;
      };
      // After a failed round the next one still runs: its caller must not hear "quiet" while
      // rows remain.
      const next = previous.then(run, run);
      this.round = next;
      const sent = await next;
      total += sent;
      if (sent === 0 || (!untilEmpty && sent < this.batchSize && !this.poked)) {
        return total;
      }
    }
  }

  /** Unpublished rows and the age of the oldest (the outbox lag). */
  async backlog(): Promise<OutboxBacklog> {
    const rows = await this.gate.run(() =>
      this.gate.repository(OutboxMessageEntity).find({ select: { createdAt: true }, order: { seq: 'ASC' }, take: 1 }),
    );
    const pending = await this.gate.run(() => this.gate.repository(OutboxMessageEntity).count());
    const oldest = rows[0]?.createdAt;

    return { service: this.service, pending, oldestAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0 };
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        if (!this.leader) {
          this.leader = await this.tryToLead();
        }
        if (this.leader && !this.listener && this.dataSource.options.type === 'postgres' && Date.now() >= this.listenAgainAt) {
          this.listenAgainAt = Date.now() + 30_000;
          await this.listen().catch(() => undefined);
        }
        if (this.leader) {
          await this.publishRounds(false);
          if (this.failing) {
            this.failing = false;
            this.logger.info({ service: this.service }, 'outbox relay publishing again');
          }
        }
      } catch (error) {
        if (!this.failing) {
          this.logger.warn({ service: this.service, reason: (error as Error).message }, 'outbox relay round failed; retrying');
        }
        this.failing = true;
        await this.loseLeadershipIfSessionDied();
      }
      if (this.stopping) {
        break;
      }
      await new Promise<void>((resolve) => {
        if (this.poked && !this.failing) {
          // Staged after the last round read the outbox: go again once this turn ends.
          coalesce(resolve);

          return;
        }
        const timer = setTimeout(resolve, this.failing ? Math.max(this.pollMs, 1_000) : this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          coalesce(resolve);
        };
      });
      this.wake = undefined;
    }
    this.leader = false;
  }

  /**
   * One batch, in `seq` order per device: each device's events go one after another (the next only
   * once the broker confirmed the previous), different devices side by side. A refused message
   * stops its device's chain there, so nothing of that device overtakes it; the other devices'
   * confirmed rows are deleted all the same.
   */
  private async publishRound(): Promise<number> {
    this.roundText ??= `SELECT "seq", "messageId", "type", "subject", "envelope"
      FROM ${this.gate.table(OutboxMessageEntity)} ORDER BY "seq" LIMIT $1`;
    const rows = (await this.gate.select<OutboxRow>(this.roundText, [this.batchSize])).map((row) => ({ ...row, seq: Number(row.seq) }));
    if (rows.length === 0) {
      return 0;
    }
    const bySubject = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      bySubject.set(row.subject, [...(bySubject.get(row.subject) ?? []), row]);
    }
    const confirmed: number[] = [];
    const failures: { row: OutboxRow; reason: unknown }[] = [];
    await Promise.all(
      [...bySubject.values()].map(async (chain) => {
        for (const row of chain) {
          try {
            await this.transport.publish(JSON.parse(row.envelope) as Envelope);
            confirmed.push(row.seq);
          } catch (reason) {
            failures.push({ row, reason });

            return;
          }
        }
      }),
    );
    if (confirmed.length > 0) {
      await this.gate.run(() => this.deleteRows(confirmed));
    }
    if (failures.length > 0) {
      const seqs = failures.map(({ row }) => row.seq);
      await this.gate.run(() => this.gate.repository(OutboxMessageEntity).increment({ seq: In(seqs) }, 'failedAttempts', 1));
      const { row, reason } = failures[0]!;
      throw new Error(`publishing ${row.type} (${row.messageId}) failed: ${(reason as Error)?.message ?? String(reason)}`);
    }

    return confirmed.length;
  }

  /**
   * One statement text whatever the rows: TypeORM writes the numbers of an In() list into the SQL,
   * so SQLite prepared and cached a new statement for every batch (see TransactionalOutbox.stage).
   */
  private async deleteRows(seqs: number[]): Promise<void> {
    const table = this.gate.table(OutboxMessageEntity);
    if (this.dataSource.options.type === 'postgres') {
      await this.gate.write(`DELETE FROM ${table} WHERE "seq" = ANY($1)`, [seqs]);
    } else {
      await this.gate.write(`DELETE FROM ${table} WHERE "seq" IN (SELECT value FROM json_each($1))`, [JSON.stringify(seqs)]);
    }
  }


  /**
   * The lock lives as long as its session: once that session is gone (idle timeout, failover) a
   * relay elsewhere may hold the lock, and this one must stop before it publishes beside it.
   */
  private async confirmLeadership(): Promise<void> {
    if (!this.lockRunner) {
      return;
    }
    try {
      await this.lockRunner.query('SELECT 1');
    } catch {
      this.logger.warn({ service: this.service }, 'outbox relay lost its lock session; no longer publishing');
      this.leader = false;
      await this.lockRunner.release().catch(() => undefined);
      this.lockRunner = undefined;
    }
  }

  private async tryToLead(): Promise<boolean> {
    if (this.dataSource.options.type !== 'postgres') {
      // SQLite is one process's own file: that process's relay is the only one.
      return true;
    }
    this.lockRunner ??= this.dataSource.createQueryRunner();
    const schema = (this.dataSource.options as { schema?: string }).schema ?? 'public';
    const [row] = (await this.lockRunner.query('SELECT pg_try_advisory_lock($1) AS locked', [lockKey(schema)])) as { locked: boolean }[];
    if (!row?.locked) {
      return false;
    }
    // Notifications only wake the relay sooner; without them it polls, and still publishes.
    await this.listen().catch((error: Error) => {
      this.logger.warn({ service: this.service, reason: error.message }, 'outbox notifications unavailable; polling');
    });
    this.logger.info({ service: this.service }, 'outbox relay leads');

    return true;
  }

  /** LISTEN on a connection of its own: commits in other processes wake this relay. */
  private async listen(): Promise<void> {
    const url = (this.dataSource.options as { url?: string }).url;
    if (!url || this.listener) {
      return;
    }
    const client = new pg.Client({ connectionString: url });
    client.on('notification', (message) => {
      if (message.payload === this.service) {
        this.poke();
      }
    });
    client.on('error', (error) => {
      this.logger.warn({ service: this.service, reason: error.message }, 'outbox notifications lost; polling');
      this.listener = undefined;
      void client.end().catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.listener = client;
  }

  /** A relay whose lock session died is no longer the one relay: it must lock again. */
  private async loseLeadershipIfSessionDied(): Promise<void> {
    if (!this.lockRunner) {
      return;
    }
    try {
      await this.lockRunner.query('SELECT 1');
    } catch {
      this.leader = false;
      await this.lockRunner.release().catch(() => undefined);
      this.lockRunner = undefined;
    }
  }
}

/** A 64-bit advisory lock key per schema (each service's schema holds its own outbox). */
function lockKey(schema: string): string {
  return BigInt.asIntN(64, BigInt(`0x${createHash('sha256').update(`turnaround.outbox.${schema}`).digest('hex').slice(0, 16)}`)).toString();
}

/**
 * Starts a woken round one turn of the event loop later. Under load the commits of many requests
 * and handlers land in the same turn, each waking the relay: waiting for the turn to end lets one
 * round read and delete all their rows, where each used to get a round of its own (a read, a
 * delete and a commit). An idle relay loses nothing but the turn.
 */
function coalesce(resolve: () => void): void {
  setImmediate(resolve);
}
