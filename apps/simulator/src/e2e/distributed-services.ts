import { randomUUID } from 'node:crypto';

import * as amqp from 'amqplib';
import pg from 'pg';

import { freeLoopbackPort, freeLoopbackPortRange } from '@turnaround/testing';

import { ServiceProcess } from './service-process.js';

const POSTGRES = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const RABBIT = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * The four services as separate processes on this machine's RabbitMQ and PostgreSQL (CI starts
 * both), with a database and a bus namespace of their own, removed again by `stop`.
 */
export class DistributedServices {
  readonly namespace: string;
  readonly database: string;
  private process?: ServiceProcess;

  constructor(label: string) {
    const run = randomUUID().slice(0, 8);
    this.namespace = `${label}-${run}`;
    this.database = `turnaround_${label.replace(/-/g, '_')}_${run}`;
  }

  get service(): ServiceProcess {
    if (!this.process) {
      throw new Error('the distributed services have not been started');
    }

    return this.process;
  }

  /** The URL of this run's own database. */
  get databaseUrl(): string {
    const url = new URL(POSTGRES);
    url.pathname = `/${this.database}`;

    return url.toString();
  }

  async start(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const base = await freeLoopbackPortRange(5);
    this.process = new ServiceProcess('launcher', await freeLoopbackPort(), {
      DATABASE_URL: this.databaseUrl,
      AMQP_URL: RABBIT,
      TURNAROUND_BUS_NAMESPACE: this.namespace,
      TURNAROUND_SERVICE_PORT_BASE: String(base),
      ...env,
    });
    await this.process.start(90_000);

    return this.process;
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    const client = new pg.Client({ connectionString: POSTGRES });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`);
    await client.end();
    const connection = await amqp.connect(RABBIT);
    const channel = await connection.createChannel();
    for (const group of ['checkin', 'commands', 'escrow', 'provisioning']) {
      for (const kind of ['events', 'dead-letter', 'requests']) {
        await channel.deleteQueue(`${this.namespace}.${group}.${kind}`);
      }
    }
    for (const exchange of ['events', 'requests', 'dead-letter']) {
      await channel.deleteExchange(`${this.namespace}.${exchange}`);
    }
    await connection.close();
  }
}
