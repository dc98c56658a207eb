import 'reflect-metadata';

import { randomUUID } from 'node:crypto';

import { Envelope } from '@turnaround/contracts';
import { InboxMessageEntity } from '@turnaround/platform';
import { messagingOnlySchema, onEachDatabase } from '@turnaround/testing';

import { MessageInbox } from './outbox.js';

const MESSAGING_ONLY = messagingOnlySchema('commands');

function message(): Envelope {
  return {
    id: randomUUID(),
    source: 'checkin',
    type: 'checkin.device.enrolled.v1',
    specversion: '1.0',
    time: new Date().toISOString(),
    subject: 'UDID-INBOX',
    datacontenttype: 'application/json',
    data: {},
  };
}

/** A message's effects happen once, however often and however concurrently it is delivered. */
describe('the message inbox', () => {
  onEachDatabase(MESSAGING_ONLY, (database) => {
    let inbox: MessageInbox;

    beforeAll(async () => {
      await database.dataSource.synchronize();
      inbox = new MessageInbox(database.dataSource);
    });

    it('runs a message once and recognises it when it comes again', async () => {
      const envelope = message();
      let runs = 0;

      expect(await inbox.handleOnce(envelope, async () => void (runs += 1))).toBe(true);
      expect(await inbox.handleOnce(envelope, async () => void (runs += 1))).toBe(false);
      expect(runs).toBe(1);
      expect(await database.dataSource.getRepository(InboxMessageEntity).findOneBy({ messageId: envelope.id })).toMatchObject({
        type: 'checkin.device.enrolled.v1',
        handledAt: expect.any(Date),
      });
    });

    it('forgets the message when its work fails, so the retry runs it', async () => {
      const envelope = message();

      await expect(inbox.handleOnce(envelope, async () => Promise.reject(new Error('handler failed')))).rejects.toThrow('handler failed');
      let ran = false;
      expect(await inbox.handleOnce(envelope, async () => void (ran = true))).toBe(true);
      expect(ran).toBe(true);
    });

    it('runs one of two concurrent deliveries of the same message', async () => {
      const envelope = message();
      let runs = 0;
      const work = async () => {
        runs += 1;
        // Long enough for the other delivery to reach its claim while this one is uncommitted.
        await new Promise((resolve) => setImmediate(resolve));
      };

      const outcomes = await Promise.all([inbox.handleOnce(envelope, work), inbox.handleOnce(envelope, work)]);

      expect(outcomes.sort()).toEqual([false, true]);
      expect(runs).toBe(1);
    });
  });
});
