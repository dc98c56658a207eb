import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * An event a service decided to publish, written in the same transaction as the change that
 * caused it; the relay publishes it and deletes the row once the broker confirmed it. `seq` gives
 * the publishing order, so one device's events leave in the order they were decided.
 */
@Entity({ name: 'outbox_messages' })
export class OutboxMessageEntity {
  @PrimaryGeneratedColumn()
  seq!: number;

  @Index('outbox_messages_message_id', { unique: true })
  @Column({ type: 'varchar', length: 36 })
  messageId!: string;

  @Column({ type: 'varchar', length: 128 })
  type!: string;

  @Column({ type: 'varchar', length: 128 })
  subject!: string;

  /** The whole CloudEvents envelope, JSON. */
  @Column({ type: 'text' })
  envelope!: string;

  @Index('outbox_messages_created_at')
  @Column()
  createdAt!: Date;

  /** Publishing attempts that failed; the relay keeps trying, this only shows it. */
  @Column({ type: 'integer', default: 0 })
  failedAttempts!: number;
}

/**
 * A message this service already handled: a redelivery (after a crash before the broker got the
 * acknowledgement, or a relay publishing twice) is acknowledged without being handled again.
 * Written in the handler's own transaction, so "handled" and "recorded" cannot disagree.
 */
@Entity({ name: 'inbox_messages' })
export class InboxMessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  messageId!: string;

  @Column({ type: 'varchar', length: 128 })
  type!: string;

  @Index('inbox_messages_handled_at')
  @Column()
  handledAt!: Date;
}

/** Every service's database holds these two tables next to its own. */
export const MESSAGING_ENTITIES = [OutboxMessageEntity, InboxMessageEntity];
