import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';
import { DataSource, Logger } from 'typeorm';

import {
  DatabaseConfig,
  dataSourceOptions,
  migrateServices,
  ServiceSchema,
} from '@turnaround/platform';

export type Dialect = 'postgres' | 'sqlite';

export const DIALECTS: readonly Dialect[] = ['postgres', 'sqlite'];

/** The development machine's PostgreSQL (CI starts it). */
export const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Empty databases of one's own: a temporary directory for SQLite files, and a database on the
 * PostgreSQL server. `close` removes both.
 */
export class ScratchDatabases {
  private constructor(
    private readonly server: string,
    readonly database: string,
    private readonly dataDir: string,
  ) {}

  /** `server`: any database URL of the PostgreSQL server to create the scratch database on. */
  static async create(server: string): Promise<ScratchDatabases> {
    const database = `turnaround_scratch_${randomBytes(6).toString('hex')}`;
    await onServer(server, (client) => client.query(`CREATE DATABASE "${database}"`));

    return new ScratchDatabases(
      server,
      database,
      mkdtempSync(join(tmpdir(), 'turnaround-scratch-')),
    );
  }

  configFor(dialect: Dialect): DatabaseConfig {
    if (dialect === 'sqlite') {
      return { dataDir: this.dataDir };
    }
    const url = new URL(this.server);
    url.pathname = `/${this.database}`;

    return { dataDir: this.dataDir, databaseUrl: url.toString() };
  }

  /** The service's database in `dialect`, migrated, and open; `logger` sees every statement. */
  async open(schema: ServiceSchema, dialect: Dialect, logger?: Logger): Promise<DataSource> {
    const config = this.configFor(dialect);
    await migrateServices([schema], config);
    const options = dataSourceOptions(schema.service, config, schema.entities, schema.migrations);

    return new DataSource({ ...options, ...(logger ? { logger } : {}) }).initialize();
  }

  async close(): Promise<void> {
    rmSync(this.dataDir, { recursive: true, force: true });
    await onServer(this.server, (client) =>
      client.query(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`),
    );
  }
}

async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
