import type { DataSource } from 'typeorm';
import { In, LessThan } from 'typeorm';

import { Envelope, ServiceName } from '@turnaround/contracts';
import { DataGate, InboxMessageEntity, OutboxMessageEntity } from '@turnaround/platform';

/** The PostgreSQL notification channel a relay listens on; the payload names the service. */
export const OUTBOX_CHANNEL = 'turnaround_outbox';

/**
 * Where a service's events go first: a row in its own database, written in the caller's unit of
 * work when there is one, so the event exists exactly when the change that caused it committed.
 * The relay publishes it from there.
 */
export class TransactionalOutbox {
  private readonly gate: DataGate;
  private readonly listeners = new Set<() => void>();
  private readonly notify: boolean;
  private stageText?: string;

  constructor(
    readonly service: ServiceName,
    readonly dataSource: DataSource,
  ) {
    this.gate = DataGate.of(dataSource);
    this.notify = dataSource.options.type === 'postgres';
  }

  async stage(envelope: Envelope): Promise<void> {
    // One statement text, prepared once: TypeORM's insert builder cost more CPU per event than the
    // insert itself, and reading the new seq back wrote the number into a new SQL text each time.
    // On PostgreSQL the same statement also notifies the relays (delivered on commit only, and
    // wakes relays in other processes or replicas at once): one round trip per event, not two.
    this.stageText ??= this.notify
      ? `WITH staged AS (${this.insertText()} RETURNING "seq") SELECT pg_notify($6, $7) FROM staged`
      : this.insertText();
    const values = [envelope.id, envelope.type, envelope.subject, JSON.stringify(envelope), new Date()];
    await this.gate.write(this.stageText, this.notify ? [...values, OUTBOX_CHANNEL, this.service] : values);
    this.gate.afterCommit(() => {
      for (const listener of this.listeners) {
        listener();
      }
    });
  }

  private insertText(): string {
    return `INSERT INTO ${this.gate.table(OutboxMessageEntity)}
      ("messageId", "type", "subject", "envelope", "createdAt", "failedAttempts")
      VALUES ($1, $2, $3, $4, $5, 0)`;
  }

  /** Called after each commit that staged events (the in-process relay's wake-up). */
  onStaged(listener: () => void): () => void {
    this.listeners.add(listener);

    return () => this.listeners.delete(listener);
  }
}

/**
 * The handled-message ledger of one service. A message is handled inside one unit of work that
 * also records its id, so a redelivered message is recognised and acknowledged without effect.
 */
export class MessageInbox {
  private readonly gate: DataGate;
  private claimText?: string;

  constructor(readonly dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  /** Runs `work` unless the message was handled before; returns whether it ran. */
  async handleOnce(envelope: Envelope, work: () => Promise<void>): Promise<boolean> {
    // The id is claimed first, in the same unit of work: a redelivery finds it and does nothing,
    // and on PostgreSQL a concurrent delivery of the same message waits on the claim until this
    // unit commits (then finds it) or rolls back (then claims it itself).
    this.claimText ??= `INSERT INTO ${this.gate.table(InboxMessageEntity)} ("messageId", "type", "handledAt")
      VALUES ($1, $2, $3) ON CONFLICT ("messageId") DO NOTHING RETURNING "messageId"`;
    const claim = this.claimText;

    return this.gate.transaction(async () => {
      const claimed = await this.gate.write<{ messageId: string }>(claim, [envelope.id, envelope.type, new Date()]);
      if (claimed.rows.length === 0) {
        return false;
      }
      await work();

      return true;
    });
  }

  /**
   * Forgets up to `limit` handled ids older than `before` (the oldest first); redeliveries come
   * within minutes, not days. Returns how many went, so a caller can go on in batches.
   */
  async purge(before: Date, limit = 500): Promise<number> {
    return this.gate.run(async () => {
      const repository = this.gate.repository(InboxMessageEntity);
      const old = await repository.find({ select: { messageId: true }, where: { handledAt: LessThan(before) }, order: { handledAt: 'ASC' }, take: limit });
      if (old.length === 0) {
        return 0;
      }
      const result = await repository.delete({ messageId: In(old.map((row) => row.messageId)) });

      return result.affected ?? 0;
    });
  }
}
