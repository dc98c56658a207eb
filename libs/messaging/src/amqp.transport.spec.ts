import { randomUUID } from 'node:crypto';

import * as amqp from 'amqplib';

import { ContractViolation, createEnvelope, DeviceCheckedOut, Envelope, ResolveIdentity } from '@turnaround/contracts';

import { AmqpTransport, DELIVERY_LIMIT } from './amqp.transport.js';
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
      for (const kind of ['events', 'dead-letter', 'requests'] as const) {
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

  it('retries a failing delivery in place, so a later event of the same device waits for it', async () => {
    const bus = await transport();
    const seen: string[] = [];
    let failures = 0;
    await bus.subscribe(group('retry'), [DeviceCheckedOut.routingKey], async (envelope) => {
      const { enrollmentId } = envelope.data as { enrollmentId: string };
      if (enrollmentId === 'first' && failures < 2) {
        failures += 1;
        throw new Error('transient');
      }
      seen.push(enrollmentId);
    });
    const udid = `U-retry-${run}`;
    await bus.publish(checkedOut(udid, 'first'));
    await bus.publish(checkedOut(udid, 'second'));
    await until(() => seen.length >= 2);

    expect(failures).toBe(2);
    expect(seen).toEqual(['first', 'second']);
  });

  it('keeps one device in order across replicas: one consumer is active, the other stands by and takes over', async () => {
    const [publisher, first, second] = [await transport(), await transport(), await transport()];
    const name = group('replicas');
    const seen: { replica: string; enrollmentId: string }[] = [];
    const subscribe = (bus: AmqpTransport, replica: string): Promise<void> =>
      bus.subscribe(name, [DeviceCheckedOut.routingKey], async (envelope) => {
        seen.push({ replica, enrollmentId: (envelope.data as { enrollmentId: string }).enrollmentId });
      });
    await subscribe(first, 'first');
    await subscribe(second, 'second');
    const udid = `U-replicas-${run}`;
    const sent = Array.from({ length: 20 }, (_, index) => `E${index}`);
    for (const enrollmentId of sent) {
      await publisher.publish(checkedOut(udid, enrollmentId));
    }
    await until(() => seen.length >= 20);

    expect(seen.map((entry) => entry.enrollmentId)).toEqual(sent);
    expect(new Set(seen.map((entry) => entry.replica)).size).toBe(1);

    const active = seen[0]!.replica === 'first' ? first : second;
    const standby = seen[0]!.replica === 'first' ? 'second' : 'first';
    await active.close();
    await publisher.publish(checkedOut(udid, 'after-failover'));
    await until(() => seen.some((entry) => entry.enrollmentId === 'after-failover'));

    // At least once: a message the closed replica had not yet acknowledged comes again, before
    // the new one and in order (services' inboxes drop such repeats).
    const afterClose = seen.slice(20);
    expect(afterClose.every((entry) => entry.replica === standby)).toBe(true);
    expect(afterClose.at(-1)!.enrollmentId).toBe('after-failover');
    const repeats = afterClose.slice(0, -1).map((entry) => entry.enrollmentId);
    expect(repeats).toEqual(sent.slice(sent.length - repeats.length));
  });

  it('has the broker dead-letter a message that keeps coming back (a consumer that dies on it)', async () => {
    const bus = await transport();
    const name = group('crashing');
    await bus.subscribe(name, [DeviceCheckedOut.routingKey], async () => undefined);
    await bus.close();
    const connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    const tap = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(tap.queue, bus.exchanges.deadLetter, `${name}.#`);
    const deadLetters: amqp.ConsumeMessage[] = [];
    await channel.consume(tap.queue, (message) => message && deadLetters.push(message), { noAck: true });
    const publisher = await transport();
    await publisher.publish(checkedOut(`U-crash-${run}`, 'kills-its-consumer'));
    // Each requeue stands for a consumer that died before acknowledging.
    let deliveries = 0;
    await channel.consume(bus.queueName(name, 'events'), (message) => {
      if (message) {
        deliveries += 1;
        channel.nack(message, false, true);
      }
    });
    await until(() => deadLetters.length > 0);
    await connection.close();

    expect(deliveries).toBe(DELIVERY_LIMIT + 1);
    expect(deadLetters[0]!.fields.routingKey).toBe(`${name}.delivery-limit`);
    expect(deadLetters[0]!.properties.headers?.['x-first-death-reason']).toBe('delivery_limit');
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
