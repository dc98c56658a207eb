import 'reflect-metadata';

import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';

import { CycleEvents, createEnvelope, Envelope } from '@turnaround/contracts';
import { DataGate, MESSAGING_ENTITIES } from '@turnaround/platform';

import { InProcessTransport } from './in-process.transport.js';
import { OutboxRelay } from './outbox-relay.js';
import { MessageInbox, TransactionalOutbox } from './outbox.js';

/**
 * The relay and the outbox on a real (in-memory) SQLite database and the real in-process bus. The only stand-in is a broker that refuses one publish once, as RabbitMQ does
 * with a basic.nack for one message of a batch.
 */
class RefusingOnce extends InProcessTransport {
  refuse?: string;

  override async publish(envelope: Envelope): Promise<void> {
    if (envelope.id === this.refuse) {
      this.refuse = undefined;
      throw new Error('broker refused (nack)');
    }
    await super.publish(envelope);
  }
}

function cycleEvent(udid: string, n: number): Envelope {
  return createEnvelope(CycleEvents.requested, 'provisioning', {
    cycleId: `00000000-0000-4000-8000-00000000000${n}`,
    udid,
    configuration: 'c',
    trigger: 'service',
    preserveApps: false,
    state: 'requested',
    at: new Date(2026, 0, 1, 0, 0, n).toISOString(),
  }, { subject: udid });
}

/** Lets every callback queued so far run, I/O turns included. */
async function settleTurns(): Promise<void> {
  for (let turn = 0; turn < 20; turn += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('outbox relay', () => {
  let dataSource: DataSource;

  beforeEach(async () => {
    dataSource = await new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: MESSAGING_ENTITIES, synchronize: true }).initialize();
  });

  afterEach(async () => {
    await dataSource.destroy();
  });

  it('keeps one device\'s events in order when the broker refuses one message of a batch', async () => {
    const transport = new RefusingOnce({ maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 });
    const seen: string[] = [];
    await transport.subscribe('commands', ['#'], async (envelope) => {
      seen.push(envelope.id);
    });
    const outbox = new TransactionalOutbox('provisioning', dataSource);
    const events = [cycleEvent('UDID-1', 1), cycleEvent('UDID-1', 2), cycleEvent('UDID-1', 3)];
    for (const event of events) {
      await outbox.stage(event);
    }
    transport.refuse = events[1]!.id;
    const relay = new OutboxRelay('provisioning', dataSource, transport);
    (relay as unknown as { leader: boolean }).leader = true;

    await expect(relay.drain()).rejects.toThrow(/refused/);
    // The relay's loop tries again; a few rounds (the one right after a failed round sends nothing).
    for (let round = 0; round < 3; round += 1) {
      await relay.drain();
    }
    await transport.idle();

    // The consumer's inbox drops repeats, so what counts is the order of first sight.
    const firstSeen = seen.filter((id, index) => seen.indexOf(id) === index);
    expect(firstSeen).toEqual(events.map((event) => event.id));
  });

  it('publishes every staged event on the wake-up its commit gives, with no poll to fall back on', async () => {
    const transport = new InProcessTransport({ maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 });
    let arrived: (id: string) => void = () => undefined;
    await transport.subscribe('commands', ['#'], async (envelope) => arrived(envelope.id));
    const outbox = new TransactionalOutbox('provisioning', dataSource);
    // An hour between polls: an event whose wake-up were lost would not arrive within the test.
    const relay = new OutboxRelay('provisioning', dataSource, transport, { pollMs: 3_600_000 });
    relay.start(outbox);
    try {
      for (let n = 0; n < 30; n += 1) {
        const event = cycleEvent(`UDID-${n % 3}`, n % 10);
        event.id = `00000000-0000-4000-8000-0000000001${String(n).padStart(2, '0')}`;
        const seen = new Promise<string>((resolve) => {
          arrived = resolve;
        });
        // Stages land during a round, right after one, and while the relay sleeps.
        if (n % 2 === 0) {
          await outbox.stage(event);
        } else {
          void outbox.stage(event);
        }
        expect(await seen).toBe(event.id);
      }
    } finally {
      await relay.stop();
    }
  });

  it('takes the events of commits that land together in one round', async () => {
    const transport = new InProcessTransport({ maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 });
    const arrived: string[] = [];
    await transport.subscribe('commands', ['#'], async (envelope) => {
      arrived.push(envelope.id);
    });
    const outbox = new TransactionalOutbox('provisioning', dataSource);
    const relay = new OutboxRelay('provisioning', dataSource, transport, { pollMs: 3_600_000 });
    const gate = DataGate.of(dataSource);
    const select = gate.select.bind(gate);
    let rounds = 0;
    jest.spyOn(gate, 'select').mockImplementation((text, params) => {
      rounds += /FROM "outbox_messages" ORDER BY "seq"/.test(text) ? 1 : 0;

      return select(text, params);
    });
    relay.start(outbox);
    try {
      await settleTurns();
      rounds = 0;
      // Ten devices' handlers commit in the same turn, as they do under load; each commit wakes
      // the relay.
      const events = Array.from({ length: 10 }, (_, n) => cycleEvent(`UDID-${n}`, n));
      await Promise.all(events.map((event) => outbox.stage(event)));
      await settleTurns();
      await transport.idle();

      expect(arrived.sort()).toEqual(events.map((event) => event.id).sort());
      expect(rounds).toBe(1);
    } finally {
      await relay.stop();
    }
  });

  it('does not report an empty outbox to idle() while rows are still waiting after a failed round', async () => {
    const transport = new RefusingOnce({ maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 });
    await transport.subscribe('commands', ['#'], async () => undefined);
    const outbox = new TransactionalOutbox('provisioning', dataSource);
    const event = cycleEvent('UDID-2', 1);
    await outbox.stage(event);
    transport.refuse = event.id;
    const relay = new OutboxRelay('provisioning', dataSource, transport);
    (relay as unknown as { leader: boolean }).leader = true;

    const failing = relay.drain();
    // A second caller (InProcessTransport.idle, the relay's own loop) chained behind the failed round.
    const behind = relay.drain();
    await expect(failing).rejects.toThrow(/refused/);
    const sent = await behind;
    const left = await DataGate.of(dataSource).run(() => dataSource.getRepository(MESSAGING_ENTITIES[0]!).count());

    // drain() promises "everything staged so far"; 0 sent with a row left is a false "quiet".
    expect(sent === 0 && left > 0).toBe(false);
  });

  it('an inbox unit that fails after its handler staged events publishes none of them', async () => {
    const outbox = new TransactionalOutbox('provisioning', dataSource);
    const inbox = new MessageInbox(dataSource);
    const incoming = cycleEvent('UDID-3', 1);
    await inbox.handleOnce(incoming, async () => undefined);
    // Same message again, while a handler stages an event: the inbox drops it before the handler.
    const ran = await inbox.handleOnce(incoming, async () => {
      await outbox.stage(cycleEvent('UDID-3', 2));
    });
    expect(ran).toBe(false);
    const rows = await DataGate.of(dataSource).run(() => dataSource.getRepository(MESSAGING_ENTITIES[0]!).count());
    expect(rows).toBe(0);
  });
});
