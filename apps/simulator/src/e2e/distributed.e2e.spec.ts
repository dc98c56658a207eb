import { randomUUID } from 'node:crypto';

import * as amqp from 'amqplib';
import pg from 'pg';

import { runSimulation, silentLog } from '@turnaround/simulator';

import { freeLoopbackPort, freeLoopbackPortRange } from '@turnaround/testing';

import { ServiceProcess } from './service-process.js';

// Distributed mode end to end: four service processes on this machine's RabbitMQ and
// PostgreSQL (CI starts both), a database and a bus namespace of this run only, removed after.
const postgres = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const rabbit = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const run = randomUUID().slice(0, 8);
const database = `turnaround_e2e_${run}`;
const namespace = `e2e-${run}`;

describe('the distributed services on RabbitMQ and PostgreSQL, end to end', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    const base = await freeLoopbackPortRange(4);
    const url = new URL(postgres);
    url.pathname = `/${database}`;
    service = new ServiceProcess('launcher', port, {
      DATABASE_URL: url.toString(),
      AMQP_URL: rabbit,
      TURNAROUND_BUS_NAMESPACE: namespace,
      TURNAROUND_SERVICE_PORT_BASE: String(base),
    });
    await service.start(90_000);
  }, 120_000);

  afterAll(async () => {
    await service.stop();
    const client = new pg.Client({ connectionString: postgres });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await client.end();
    const connection = await amqp.connect(rabbit);
    const channel = await connection.createChannel();
    for (const group of ['checkin', 'commands', 'escrow', 'provisioning']) {
      for (const kind of ['events', 'retry', 'dead-letter', 'requests']) {
        await channel.deleteQueue(`${namespace}.${group}.${kind}`);
      }
    }
    for (const exchange of ['events', 'requests', 'dead-letter']) {
      await channel.deleteExchange(`${namespace}.${exchange}`);
    }
    await connection.close();
  }, 60_000);

  it('returns every simulated device to service in every cycle', async () => {
    const result = await runSimulation({
      url: service.url,
      apiKey: service.apiKey,
      devices: 6,
      cycles: 2,
      platform: 'ios',
      seed: 'distributed-e2e',
      concurrency: 12,
      timeoutMs: 120_000,
      notNowShare: 0.3,
      log: silentLog,
    });

    expect(result.enrollment.inService).toBe(6);
    expect(result.cycleResults).toHaveLength(2);
    for (const cycle of result.cycleResults) {
      expect(cycle.results.map((entry) => [entry.outcome, entry.reason])).toEqual(Array(6).fill(['returned', undefined]));
    }
  }, 180_000);
});
