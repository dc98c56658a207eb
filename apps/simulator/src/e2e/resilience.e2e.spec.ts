import * as amqp from 'amqplib';
import pg from 'pg';

import { createEnvelope, EnqueueCommands } from '@turnaround/contracts';
import { runSimulation, silentLog } from '@turnaround/simulator';

import { DistributedServices, RABBIT } from './distributed-services.js';
import { ServiceProcess } from './service-process.js';

const DEVICES = 8;
const CYCLES = 2;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

// The production shape under failure: the four services and the outbox relay as processes on
// RabbitMQ and PostgreSQL, the provisioning service and the relay killed (SIGKILL, no goodbye)
// in the middle of the run and started again by the launcher, as Kubernetes would.
describe('the distributed services, with the provisioning service and the relay killed mid-run', () => {
  const services = new DistributedServices('kill');
  let service: ServiceProcess;
  let database: pg.Client;

  beforeAll(async () => {
    service = await services.start();
    database = new pg.Client({ connectionString: services.databaseUrl });
    await database.connect();
  }, 120_000);

  afterAll(async () => {
    await database?.end();
    await services.stop();
  }, 60_000);

  async function count(sql: string): Promise<number> {
    return Number((await database.query<{ count: string }>(sql)).rows[0]!.count);
  }

  async function killAndAwaitRestart(app: 'provisioning' | 'relay'): Promise<void> {
    const pid = await until(`${app} running`, () => service.childPid(app));
    process.kill(pid, 'SIGKILL');
    await until(`${app} started again`, () => {
      const next = service.childPid(app);

      return next !== undefined && next !== pid ? next : undefined;
    });
  }

  it('returns every device in every cycle, each erase delivered exactly once', async () => {
    try {
      await killTwiceAndCheck();
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- the services' log ---\n${service.log}`);
    }
  }, 420_000);

  async function killTwiceAndCheck(): Promise<void> {
    const run = runSimulation({
      url: service.url,
      apiKey: service.apiKey,
      devices: DEVICES,
      cycles: CYCLES,
      platform: 'ios',
      seed: 'kill-e2e',
      concurrency: 16,
      timeoutMs: 240_000,
      notNowShare: 0.2,
      log: silentLog,
    });
    // Mid-run of the first cycle: erases are queued, and some devices are already past them.
    await until('the first erases queued', async () => (await count(`SELECT count(*) FROM commands.commands WHERE "requestType" = 'EraseDevice'`)) >= DEVICES / 2);
    await Promise.all([killAndAwaitRestart('provisioning'), killAndAwaitRestart('relay')]);
    // And again in the second cycle, while devices await configuration.
    // A start the kill interrupted is taken up after half a minute of quiet, so cycle 1 ends late.
    await until('the second cycle under way', async () => (await count(`SELECT count(*) FROM commands.commands WHERE "requestType" = 'EraseDevice'`)) > DEVICES, 200_000);
    await killAndAwaitRestart('relay');
    await killAndAwaitRestart('provisioning');

    const result = await run;

    expect(result.enrollment.inService).toBe(DEVICES);
    expect(result.cycleResults).toHaveLength(CYCLES);
    for (const cycle of result.cycleResults) {
      expect(cycle.results.map((entry) => [entry.outcome, entry.reason])).toEqual(Array(DEVICES).fill(['returned', undefined]));
    }
    const erases = await database.query<{ udid: string; deliveries: number; state: string }>(
      `SELECT udid, deliveries, state FROM commands.commands WHERE "requestType" = 'EraseDevice' ORDER BY udid`,
    );
    expect(erases.rows).toHaveLength(DEVICES * CYCLES);
    expect(erases.rows.filter((row) => row.deliveries !== 1)).toEqual([]);
    const perDevice = new Map<string, number>();
    for (const row of erases.rows) {
      perDevice.set(row.udid, (perDevice.get(row.udid) ?? 0) + 1);
    }
    expect([...perDevice.values()]).toEqual(Array(DEVICES).fill(CYCLES));
    // Nothing is left behind in any outbox.
    for (const schema of ['checkin', 'commands', 'escrow', 'provisioning']) {
      expect(await count(`SELECT count(*) FROM ${schema}.outbox_messages`)).toBe(0);
    }
  }

  it('dead-letters a poisoned message with its reason, and the services carry on', async () => {
    const connection = await amqp.connect(RABBIT);
    const channel = await connection.createConfirmChannel();
    const tap = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(tap.queue, `${services.namespace}.dead-letter`, 'commands.#');
    const deadLetters: amqp.ConsumeMessage[] = [];
    await channel.consume(tap.queue, (message) => message && deadLetters.push(message), { noAck: true });
    // A well-formed envelope whose command is not a Command dictionary: the commands service can
    // never deliver it, so it must refuse it at once rather than retry it.
    const poisoned = createEnvelope(
      EnqueueCommands,
      'provisioning',
      {
        udid: 'POISON-UDID',
        enrollmentId: 'POISON-ENROLLMENT',
        placement: 'back',
        commands: [{ commandUuid: 'POISON-COMMAND', requestType: 'EraseDevice', command: Buffer.from('not a plist').toString('base64') }],
      },
      { subject: 'POISON-UDID' },
    );
    channel.publish(`${services.namespace}.events`, EnqueueCommands.routingKey, Buffer.from(JSON.stringify(poisoned)), { persistent: true, messageId: poisoned.id, type: poisoned.type });
    await channel.waitForConfirms();
    const letter = await until('the poisoned message dead-lettered', () => deadLetters[0]);
    await connection.close();

    expect(JSON.parse(letter.content.toString('utf8'))).toMatchObject({ id: poisoned.id });
    expect(letter.properties.headers?.['x-turnaround-group']).toBe('commands');
    expect(String(letter.properties.headers?.['x-turnaround-dead-letter-reason'])).toMatch(/^CONTRACT\.VIOLATION: data\.commands\[0\]/);
    expect(await count(`SELECT count(*) FROM commands.commands WHERE "commandUuid" = 'POISON-COMMAND'`)).toBe(0);
    // The message is kept in the commands service's dead-letter queue for an operator.
    const inspector = await amqp.connect(RABBIT);
    const { messageCount } = await (await inspector.createChannel()).checkQueue(`${services.namespace}.commands.dead-letter`);
    await inspector.close();
    expect(messageCount).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
