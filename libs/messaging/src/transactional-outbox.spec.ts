import 'reflect-metadata';

import { randomUUID } from 'node:crypto';

import type { PoolClient, Pool, Notification } from 'pg';

import { Envelope } from '@turnaround/contracts';
import { DataGate, OutboxMessageEntity } from '@turnaround/platform';
import { messagingOnlySchema, onEachDatabase } from '@turnaround/testing';

import { OUTBOX_CHANNEL, TransactionalOutbox } from './outbox.js';

const MESSAGING_ONLY = messagingOnlySchema('commands');

function event(): Envelope {
  return {
    id: randomUUID(),
    source: 'commands',
    type: 'commands.command.delivered.v1',
    specversion: '1.0',
    time: new Date().toISOString(),
    subject: 'UDID-OUTBOX',
    datacontenttype: 'application/json',
    data: {},
  };
}

/** Waits long enough for a notification sent on commit to have reached a listener. */
function settle(): Promise<void> {
  return new Promise((done) => setTimeout(done, 100));
}

describe('the transactional outbox', () => {
  onEachDatabase(MESSAGING_ONLY, (database) => {
    let outbox: TransactionalOutbox;
    let gate: DataGate;

    beforeAll(async () => {
      await database.dataSource.synchronize();
      outbox = new TransactionalOutbox('commands', database.dataSource);
      gate = DataGate.of(database.dataSource);
    });

    async function staged(id: string): Promise<boolean> {
      return (await database.dataSource.getRepository(OutboxMessageEntity).findOneBy({ messageId: id })) !== null;
    }

    it('keeps an event exactly when the unit of work that staged it commits', async () => {
      const kept = event();
      const dropped = event();

      await gate.transaction(() => outbox.stage(kept));
      await expect(
        gate.transaction(async () => {
          await outbox.stage(dropped);
          throw new Error('rolled back on purpose');
        }),
      ).rejects.toThrow('rolled back on purpose');

      expect(await staged(kept.id)).toBe(true);
      expect(await staged(dropped.id)).toBe(false);
    });

    it('stages an event on its own when no unit of work is open', async () => {
      const alone = event();

      await outbox.stage(alone);

      expect(await staged(alone.id)).toBe(true);
    });

    if (database.dialect === 'postgres') {
      describe('wakes relays in other processes', () => {
        let listener: PoolClient;
        let heard: Notification[];

        beforeAll(async () => {
          const pool = (database.dataSource.driver as unknown as { master: Pool }).master;
          listener = await pool.connect();
          listener.on('notification', (notification) => heard.push(notification));
          await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
        });

        beforeEach(() => {
          heard = [];
        });

        afterAll(async () => {
          await listener.query(`UNLISTEN ${OUTBOX_CHANNEL}`);
          listener.release();
        });

        it('with one notification naming the service when the unit of work commits, not before', async () => {
          let release!: () => void;
          const held = new Promise<void>((resolve) => {
            release = resolve;
          });
          let stagedYet!: () => void;
          const stagedBoth = new Promise<void>((resolve) => {
            stagedYet = resolve;
          });
          const unit = gate.transaction(async () => {
            await outbox.stage(event());
            await outbox.stage(event());
            stagedYet();
            await held;
          });
          await stagedBoth;
          await settle();
          expect(heard).toEqual([]);

          release();
          await unit;
          await settle();

          // PostgreSQL folds identical notifications of one transaction into one.
          expect(heard.map((notification) => [notification.channel, notification.payload])).toEqual([
            [OUTBOX_CHANNEL, 'commands'],
          ]);
        });

        it('with none when the unit of work rolls back', async () => {
          await expect(
            gate.transaction(async () => {
              await outbox.stage(event());
              throw new Error('rolled back on purpose');
            }),
          ).rejects.toThrow('rolled back on purpose');
          await settle();

          expect(heard).toEqual([]);
        });
      });
    }
  });
});
