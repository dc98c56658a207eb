import 'reflect-metadata';

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as prettier from 'prettier';
import { DataSource } from 'typeorm';

import {
  dataSourceOptions,
  hasPendingMigrations,
  loadConfig,
  migrateServices,
  MIGRATIONS_TABLE,
  persistenceFor,
  runMigrations,
  ServiceSchema,
  setLogLevel,
} from '@turnaround/platform';
import { DIALECTS, LOCAL_POSTGRES, ScratchDatabases } from '@turnaround/testing';

import { listMigrations, migrationsFolder, registrySource } from './migration-files.js';
import { schemaDrift } from './schema-drift.js';
import { SERVICE_SCHEMAS, schemasNamed } from './services.js';

const POSTGRES = process.env.TEST_POSTGRES_URL ?? LOCAL_POSTGRES;

const schemaOf = (service: string): ServiceSchema =>
  SERVICE_SCHEMAS.find((schema) => schema.service === service)!;

async function appliedMigrations(dataSource: DataSource, table: string): Promise<string[]> {
  const rows: { name: string }[] = await dataSource.query(`SELECT name FROM ${table} ORDER BY id`);

  return rows.map((row) => row.name);
}

describe('the services’ migrations', () => {
  let scratch: ScratchDatabases;

  beforeAll(async () => {
    setLogLevel(process.env.TEST_LOG_LEVEL ?? 'silent');
    scratch = await ScratchDatabases.create(POSTGRES);
  });

  afterAll(async () => {
    await scratch.close();
  });

  // The drift check: an entity changed without `npm run migrations:generate` fails here.
  describe.each(DIALECTS)('on %s', (dialect) => {
    it.each(SERVICE_SCHEMAS.map((schema) => [schema.service, schema] as const))(
      'build the %s tables exactly as the entities describe them',
      async (_service, schema) => {
        const drift = await schemaDrift(schema, scratch, dialect);

        expect(drift.up.map((statement) => statement.query)).toEqual([]);
      },
    );
  });

  it('lists every migration file of each service in its registry, oldest first', async () => {
    for (const { service } of SERVICE_SCHEMAS) {
      const folder = join(process.cwd(), migrationsFolder(service));
      const registry = join(folder, `${service}.migrations.ts`);
      const files = {
        postgres: listMigrations(join(folder, 'postgres')),
        sqlite: listMigrations(join(folder, 'sqlite')),
      };
      const expected = await prettier.format(registrySource(service, files), {
        ...((await prettier.resolveConfig(registry)) ?? {}),
        filepath: registry,
      });

      expect(files.postgres.length).toBeGreaterThan(0);
      expect(files.sqlite.map((file) => file.className)).toEqual(
        files.postgres.map((file) => file.className),
      );
      expect(readFileSync(registry, 'utf8')).toEqual(expected);
    }
  });

  it('names the services to migrate, and refuses a name that is none of them', () => {
    expect(schemasNamed([]).map((schema) => schema.service)).toEqual([
      'checkin',
      'commands',
      'escrow',
      'provisioning',
    ]);
    expect(schemasNamed(['provisioning', 'escrow']).map((schema) => schema.service)).toEqual([
      'escrow',
      'provisioning',
    ]);
    expect(() => schemasNamed(['escrow', 'billing'])).toThrow(/no service named billing/);
  });

  describe('on PostgreSQL', () => {
    let fresh: ScratchDatabases;

    beforeEach(async () => {
      fresh = await ScratchDatabases.create(POSTGRES);
    });

    afterEach(async () => {
      await fresh.close();
    });

    it('creates each service’s schema and applies each migration once, however many run at once', async () => {
      const config = fresh.configFor('postgres');
      // Several pods' init containers start together; without the lock they would race on the
      // same CREATE statements and all but one would fail.
      const runs = await Promise.all([1, 2, 3].map(() => migrateServices(SERVICE_SCHEMAS, config)));
      const again = await migrateServices(SERVICE_SCHEMAS, config);

      for (const schema of SERVICE_SCHEMAS) {
        const applied = runs.flatMap((run) =>
          run.filter((entry) => entry.service === schema.service).flatMap((entry) => entry.applied),
        );
        expect(applied).toEqual(
          schema.migrations.postgres.map((migration) => new migration().name),
        );
      }
      expect(again.flatMap((run) => run.applied)).toEqual([]);
    });

    it('keeps a service from starting until its migrations have run, with what to do', async () => {
      const config = loadConfig({
        DATABASE_URL: fresh.configFor('postgres').databaseUrl,
        TURNAROUND_DATA_DIR: mkdtempSync(join(tmpdir(), 'turnaround-migrate-')),
      });
      const schema = schemaOf('provisioning');

      @Module({ imports: persistenceFor(schema, config) })
      class ServiceModule {}

      await expect(
        NestFactory.create(ServiceModule, { logger: false, abortOnError: false }),
      ).rejects.toThrow(/run npm run migrate/);

      await migrateServices([schema], config);
      const app = await NestFactory.create(ServiceModule, { logger: false, abortOnError: false });
      await app.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    });

    it('sees a migration that was not applied yet as pending', async () => {
      const config = fresh.configFor('postgres');
      const schema = schemaOf('escrow');
      await migrateServices([schema], config);
      const [first] = schema.migrations.postgres;
      // This version's migrations plus one written after it: the schema is one behind.
      const later = class Later1999999999999 {
        name = 'Later1999999999999';
        async up(): Promise<void> {}
        async down(): Promise<void> {}
      };
      const current = new DataSource(
        dataSourceOptions('escrow', config, schema.entities, schema.migrations),
      );
      const newer = new DataSource(
        dataSourceOptions('escrow', config, schema.entities, {
          postgres: [first!, later],
          sqlite: [],
        }),
      );
      await Promise.all([current.initialize(), newer.initialize()]);
      try {
        expect(await hasPendingMigrations(current)).toBe(false);
        expect(await hasPendingMigrations(newer)).toBe(true);
      } finally {
        await Promise.all([current.destroy(), newer.destroy()]);
      }
    });
  });

  describe('on SQLite', () => {
    let dataDir: string;

    beforeEach(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'turnaround-migrate-'));
    });

    afterEach(() => {
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('migrates the embedded default’s files at start, and again finds nothing to do', async () => {
      const config = loadConfig({ TURNAROUND_DATA_DIR: dataDir });
      const schema = schemaOf('commands');

      @Module({ imports: persistenceFor(schema, config) })
      class ServiceModule {}

      for (let start = 0; start < 2; start += 1) {
        const app = await NestFactory.create(ServiceModule, { logger: false });
        await app.close();
      }
      const dataSource = await new DataSource(
        dataSourceOptions('commands', config, schema.entities, schema.migrations),
      ).initialize();
      try {
        expect(await appliedMigrations(dataSource, MIGRATIONS_TABLE)).toEqual(
          schema.migrations.sqlite.map((migration) => new migration().name),
        );
      } finally {
        await dataSource.destroy();
      }
    });

    it('adopts a file that synchronize built before migrations, and migrates it as usual after', async () => {
      const schema = schemaOf('checkin');
      const options = dataSourceOptions('checkin', { dataDir }, schema.entities, schema.migrations);
      // What earlier versions did at every start.
      const earlier = await new DataSource({ ...options, synchronize: true }).initialize();
      await earlier.query(
        `INSERT INTO devices (udid, updatedAt) VALUES ('00008030-0001', '2026-01-01 00:00:00.000')`,
      );
      await earlier.destroy();

      const dataSource = await new DataSource(options).initialize();
      try {
        const run = await runMigrations(dataSource, 'checkin');

        expect(run).toEqual({ service: 'checkin', applied: [], adopted: true });
        expect(await appliedMigrations(dataSource, MIGRATIONS_TABLE)).toEqual(
          schema.migrations.sqlite.map((migration) => new migration().name),
        );
        expect(await dataSource.query('SELECT udid FROM devices')).toEqual([
          { udid: '00008030-0001' },
        ]);
        expect(await runMigrations(dataSource, 'checkin')).toEqual({
          service: 'checkin',
          applied: [],
          adopted: false,
        });
      } finally {
        await dataSource.destroy();
      }
    });
  });
});
