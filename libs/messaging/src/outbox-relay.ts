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
  private running?: Promise<void>;
  private stopping = false;
  private leader = false;
  private lockRunner?: QueryRunner;
  private listener?: pg.Client;
  private unsubscribe?: () => void;
  private failing = false;
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
    this.unsubscribe = outbox?.onStaged(() => this.wake?.());
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
    let total = 0;
    for (;;) {
      const previous = this.round;
      const next = previous.then(() => (this.leader && !this.stopping ? this.publishRound() : 0), () => 0);
      this.round = next;
      const sent = await next;
      total += sent;
      if (sent === 0) {
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
        if (this.leader) {
          await this.drain();
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
        const timer = setTimeout(resolve, this.failing ? Math.max(this.pollMs, 1_000) : this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.leader = false;
  }

  private async publishRound(): Promise<number> {
    const rows = await this.gate.run(() =>
      this.gate.repository(OutboxMessageEntity).find({ order: { seq: 'ASC' }, take: this.batchSize }),
    );
    if (rows.length === 0) {
      return 0;
    }
    // One channel keeps publish order; waiting for all confirms together keeps the round short.
    const outcomes = await Promise.allSettled(rows.map((row) => this.transport.publish(JSON.parse(row.envelope) as Envelope)));
    const firstFailure = outcomes.findIndex((outcome) => outcome.status === 'rejected');
    const confirmed = firstFailure === -1 ? rows : rows.slice(0, firstFailure);
    if (confirmed.length > 0) {
      await this.gate.run(() => this.gate.repository(OutboxMessageEntity).delete({ seq: In(confirmed.map((row) => row.seq)) }));
    }
    if (firstFailure !== -1) {
      // Rows after the failure stay too (even if confirmed): publishing them again keeps the
      // order, and the consumers' inboxes drop the repeats.
      const failed = rows[firstFailure];
      await this.gate.run(() => this.gate.repository(OutboxMessageEntity).increment({ seq: failed.seq }, 'failedAttempts', 1));
      const reason = (outcomes[firstFailure] as PromiseRejectedResult).reason as Error;
      throw new Error(`publishing ${failed.type} (${failed.messageId}) failed: ${reason?.message ?? String(reason)}`);
    }

    return confirmed.length;
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
    await this.listen();
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
        this.wake?.();
      }
    });
    client.on('error', (error) => {
      this.logger.warn({ service: this.service, reason: error.message }, 'outbox notifications lost; polling');
      this.listener = undefined;
    });
    await client.connect();
    await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
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
