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

  constructor(
    readonly service: ServiceName,
    readonly dataSource: DataSource,
  ) {
    this.gate = DataGate.of(dataSource);
    this.notify = dataSource.options.type === 'postgres';
  }

  async stage(envelope: Envelope): Promise<void> {
    await this.gate.transaction(async (manager) => {
      // updateEntity(false): otherwise TypeORM reads the new seq back with a SELECT that has the
      // number written into its text, so SQLite prepared and cached a new statement per event,
      // pushing the hot ones out of its cache and keeping the native memory until a full GC.
      await manager
        .createQueryBuilder()
        .insert()
        .into(OutboxMessageEntity)
        .values({
          messageId: envelope.id,
          type: envelope.type,
          subject: envelope.subject,
          envelope: JSON.stringify(envelope),
          createdAt: new Date(),
        })
        .updateEntity(false)
        .execute();
      // Delivered on commit only; wakes relays in other processes (or replicas) at once.
      if (this.notify) {
        await manager.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, this.service]);
      }
    });
    this.gate.afterCommit(() => {
      for (const listener of this.listeners) {
        listener();
      }
    });
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

  constructor(readonly dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  /** Runs `work` unless the message was handled before; returns whether it ran. */
  async handleOnce(envelope: Envelope, work: () => Promise<void>): Promise<boolean> {
    return this.gate.transaction(async (manager) => {
      if (await manager.existsBy(InboxMessageEntity, { messageId: envelope.id })) {
        return false;
      }
      await work();
      // A concurrent delivery of the same message that got here first makes this insert fail
      // (primary key), which rolls this unit back: the message is then retried and recognised.
      await manager.insert(InboxMessageEntity, { messageId: envelope.id, type: envelope.type, handledAt: new Date() });

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
