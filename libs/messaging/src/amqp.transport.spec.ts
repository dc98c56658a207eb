import { randomUUID } from 'node:crypto';

import * as amqp from 'amqplib';

import { ContractViolation, createEnvelope, DeviceCheckedOut, Envelope, ResolveIdentity } from '@turnaround/contracts';

import { AmqpTransport } from './amqp.transport.js';
import { RequestTimeoutError } from './transport.js';

// Integration test: the RabbitMQ on this machine (CI starts it). Each run uses its own groups.
const url = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const run = randomUUID().slice(0, 8);

function checkedOut(udid: string, enrollmentId: string): Envelope {
  return createEnvelope(DeviceCheckedOut, 'checkin', { udid, enrollmentId }, { subject: udid });
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((done) => setTimeout(done, 20));
  }
}

describe('AmqpTransport (RabbitMQ)', () => {
  const transports: AmqpTransport[] = [];
  const groups: string[] = [];

  async function transport(): Promise<AmqpTransport> {
    const created = new AmqpTransport({ url, namespace: `test-${run}`, retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 50 } });
    await created.connect();
    transports.push(created);

    return created;
  }

  function group(name: string): string {
    const unique = `test-${run}-${name}`;
    groups.push(unique);

    return unique;
  }

  afterAll(async () => {
    await Promise.all(transports.map((created) => created.close()));
    const connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    for (const name of groups) {
      for (const kind of ['events', 'retry', 'dead-letter', 'requests'] as const) {
        await channel.deleteQueue(transports[0]!.queueName(name, kind)).catch(() => undefined);
      }
    }
    for (const exchange of Object.values(transports[0]!.exchanges)) {
      await channel.deleteExchange(exchange).catch(() => undefined);
    }
    await connection.close();
  });

  it('delivers a published event persistently to each subscribed group, in order per device', async () => {
    const bus = await transport();
    const seen: string[] = [];
    await bus.subscribe(group('order'), [DeviceCheckedOut.routingKey], async (envelope) => {
      seen.push((envelope.data as { enrollmentId: string }).enrollmentId);
    });
    for (const enrollmentId of ['E1', 'E2', 'E3']) {
      await bus.publish(checkedOut(`U-${run}`, enrollmentId));
    }
    await until(() => seen.length >= 3);

    expect(seen.slice(0, 3)).toEqual(['E1', 'E2', 'E3']);
  });

  it('hands each message of a group to the handler of its routing key', async () => {
    const bus = await transport();
    const name = group('routes');
    const seen: string[] = [];
    await bus.subscribe(name, [DeviceCheckedOut.routingKey], async (envelope) => {
      seen.push(`checked-out:${envelope.type}`);
    });
    await bus.subscribe(name, ['checkin.device.other.v1'], async (envelope) => {
      seen.push(`other:${envelope.type}`);
    });
    await bus.publish(checkedOut(`U-${run}`, 'E1'));
    await bus.publish({ ...checkedOut(`U-${run}`, 'E2'), type: 'checkin.device.other.v1' });
    await until(() => seen.length >= 2);

    expect(seen.sort()).toEqual(['checked-out:checkin.device.checked-out.v1', 'other:checkin.device.other.v1']);
  });

  it('retries a failing delivery through the retry queue, then succeeds', async () => {
    const bus = await transport();
    let attempts = 0;
    await bus.subscribe(group('retry'), [DeviceCheckedOut.routingKey], async (envelope) => {
      if ((envelope.data as { enrollmentId: string }).enrollmentId !== `retry-${run}`) {
        return;
      }
      attempts += 1;
      if (attempts < 2) {
        throw new Error('transient');
      }
    });
    await bus.publish(checkedOut(`U-${run}`, `retry-${run}`));
    await until(() => attempts >= 2);

    expect(attempts).toBe(2);
  });

  it('dead-letters a message that breaks its contract at once, with the reason in a header', async () => {
    const bus = await transport();
    const name = group('poison');
    let attempts = 0;
    await bus.subscribe(name, [DeviceCheckedOut.routingKey], async (envelope) => {
      if ((envelope.data as { enrollmentId: string }).enrollmentId === `poison-${run}`) {
        attempts += 1;
        throw new ContractViolation('data.udid', 'non-empty string');
      }
    });
    const connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    const tap = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(tap.queue, bus.exchanges.deadLetter, `${name}.#`);
    const deadLetters: amqp.ConsumeMessage[] = [];
    await channel.consume(tap.queue, (message) => message && deadLetters.push(message), { noAck: true });
    await bus.publish(checkedOut(`U-${run}`, `poison-${run}`));
    await until(() => deadLetters.length > 0);
    await connection.close();

    expect(attempts).toBe(1);
    expect(deadLetters[0]!.properties.headers?.['x-turnaround-dead-letter-reason']).toBe('CONTRACT.VIOLATION: data.udid: expected non-empty string');
    expect(deadLetters[0]!.properties.headers?.['x-turnaround-group']).toBe(name);
  });

  it('answers requests through direct reply-to and times out when nobody answers', async () => {
    const bus = await transport();
    // A routing key of this run only: a real service on the same broker must never answer it.
    const responderKey = `test.identity.resolve-${run}.v1`;
    await bus.serve(group('rpc'), [responderKey], async (envelope) => ({ found: false, echo: envelope.subject }));
    const request = { ...createEnvelope(ResolveIdentity, 'commands', { certificateFingerprint: 'ab' }, { subject: `S-${run}` }), type: responderKey };

    await expect(bus.request(request, 5_000)).resolves.toEqual({ found: false, echo: `S-${run}` });
    const unanswered = { ...request, type: 'checkin.identity.nobody-home.v1' };
    await expect(bus.request(unanswered, 200)).rejects.toBeInstanceOf(RequestTimeoutError);
  });
});
