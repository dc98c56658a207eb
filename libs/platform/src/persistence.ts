import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

import { DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource, DataSourceOptions, EntitySchema, MigrationInterface } from 'typeorm';

import { ServiceName } from '@turnaround/contracts';

import { TurnaroundConfig } from './config.js';
import { createLogger } from './logger.js';
import { MESSAGING_ENTITIES } from './outbox.entities.js';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type EntityClass = Function | EntitySchema;

/** A TypeORM migration class; its name ends with the 13-digit timestamp that orders it. */
export type MigrationClass = new () => MigrationInterface;

/** One service's migrations for each database it runs on, oldest first. */
export interface ServiceMigrations {
  readonly postgres: readonly MigrationClass[];
  readonly sqlite: readonly MigrationClass[];
}

/** What a service keeps in its own database: its entities and the migrations that build them. */
export interface ServiceSchema {
  readonly service: ServiceName;
  readonly entities: readonly EntityClass[];
  readonly migrations: ServiceMigrations;
}

/** What one service's migration run did. */
export interface MigrationRun {
  service: ServiceName;
  /** Migrations applied, by name, in order. */
  applied: string[];
  /** The schema was built by `synchronize` before migrations existed and was taken over. */
  adopted: boolean;
}

/** In every service's schema (PostgreSQL) or file (SQLite), next to its own tables. */
export const MIGRATIONS_TABLE = 'migrations';

/** WAL pages after which a SQLite commit checkpoints (see `dataSourceOptions`). */
export const SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000;

const NO_MIGRATIONS: ServiceMigrations = { postgres: [], sqlite: [] };

// Two-part key of the advisory lock the migrate command holds while it runs: an arbitrary pair
// that no other lock of this project uses (classid spells "TRND").
const MIGRATION_LOCK: readonly [number, number] = [0x54524e44, 1];

/** A service on PostgreSQL found its schema behind its code; it refuses to start. */
export class PendingMigrationsError extends Error {
  readonly code = 'DATABASE.MIGRATIONS_PENDING';

  constructor(readonly service: ServiceName) {
    super(
      `the ${service} schema has migrations this version needs and has not applied: run npm run migrate (node dist/apps/migrate/src/main.js) with the same DATABASE_URL first`,
    );
  }
}

/**
 * Each service owns its tables: on SQLite a file of its own, on PostgreSQL a schema of its own.
 * Nothing joins across services. Tables come from migrations, never from `synchronize`.
 */
export function dataSourceOptions(
  service: ServiceName,
  config: Pick<TurnaroundConfig, 'databaseUrl' | 'dataDir'>,
  serviceEntities: readonly EntityClass[],
  migrations: ServiceMigrations = NO_MIGRATIONS,
): DataSourceOptions {
  const entities = [...serviceEntities, ...MESSAGING_ENTITIES];
  const common = {
    entities,
    synchronize: false,
    migrationsTableName: MIGRATIONS_TABLE,
    // A failed migration leaves the ones before it applied and itself not at all.
    migrationsTransactionMode: 'each',
  } as const;
  if (config.databaseUrl) {
    return {
      ...common,
      type: 'postgres',
      url: config.databaseUrl,
      schema: service,
      migrations: [...migrations.postgres],
      // A connection that cannot be had fails the work after 10 s instead of queueing it for ever.
      extra: { max: 10, connectionTimeoutMillis: 10_000 },
    };
  }
  // The databases hold push details and Wi-Fi profiles: readable by the service's user only.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  return {
    ...common,
    type: 'better-sqlite3',
    database: resolve(config.dataDir, `${service}.sqlite`),
    migrations: [...migrations.sqlite],
    enableWAL: true,
    // TypeORM keeps one prepared-statement cache per SQLite connection and drops the oldest past
    // its size (100 by default): a service's texts (IN lists and multi-row inserts of every
    // length) outnumber that, and a profile of RTS cycles showed statements prepared again and
    // again. A statement costs a few kilobytes.
    statementCacheSize: 1000,
    prepareDatabase: (db: { pragma(statement: string): unknown }) => {
      db.pragma('busy_timeout = 5000');
      db.pragma('synchronous = NORMAL');
      // SQLite copies the WAL into the database (and syncs both) whenever the WAL passes this
      // many pages; at its default (1,000) a run of RTS cycles checkpointed every couple of
      // seconds, copying the same hot pages (outbox, inbox, queue) each time. At 10,000 a
      // commit cost about a quarter less; the WAL file of each service grows to about 40 MB.
      db.pragma(`wal_autocheckpoint = ${SQLITE_WAL_AUTOCHECKPOINT_PAGES}`);
      // better-sqlite3 builds SQLite with a 16 MB page cache per connection, eight times SQLite's
      // own default: the embedded default's four files kept up to 64 MB of pages resident that the
      // OS page cache holds anyway. The pages a device request reads (index roots, a few leaves)
      // fit in 2 MB.
      db.pragma('cache_size = -2000');
    },
  };
}

/**
 * The named TypeORM connection of one service and its entities' repositories. Repositories inject
 * with the service's name. On SQLite (one process owns the file) pending migrations run here; on
 * PostgreSQL the migrate command runs them, and a service whose schema is behind refuses to start.
 */
export function persistenceFor(schema: ServiceSchema, config: TurnaroundConfig): DynamicModule[] {
  const { service, entities } = schema;
  const connection = TypeOrmModule.forRootAsync({
    name: service,
    useFactory: () => ({
      ...dataSourceOptions(service, config, entities, schema.migrations),
      // PostgreSQL may still be starting, which is worth waiting for; a missing migration or a
      // broken SQLite file is not.
      toRetry: (error: unknown) =>
        config.databaseUrl !== undefined && !(error instanceof PendingMigrationsError),
    }),
    dataSourceFactory: async (options) => openServiceDatabase(service, options!),
  });

  return [connection, TypeOrmModule.forFeature([...entities], service)];
}

async function openServiceDatabase(
  service: ServiceName,
  options: DataSourceOptions,
): Promise<DataSource> {
  const dataSource = await new DataSource(options).initialize();
  try {
    if (options.type === 'postgres') {
      if (await hasPendingMigrations(dataSource)) {
        throw new PendingMigrationsError(service);
      }
    } else {
      await runMigrations(dataSource, service);
    }
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }

  return dataSource;
}

/** Whether the database lacks a migration of this version (or any: never migrated). */
export async function hasPendingMigrations(dataSource: DataSource): Promise<boolean> {
  // showMigrations would create the migrations table, which on PostgreSQL fails for a schema not
  // created yet; a service must not create either.
  if (!(await hasMigrationsTable(dataSource))) {
    return true;
  }

  return dataSource.showMigrations();
}

/**
 * Applies the data source's pending migrations, one transaction each, logging one line per
 * migration. A schema that `synchronize` built before this project had migrations (it has the
 * service's tables but no migrations table) is brought up to the entities once, the way it was
 * always kept, and every migration recorded as applied; migrations run as usual from then on.
 */
export async function runMigrations(
  dataSource: DataSource,
  service: ServiceName,
): Promise<MigrationRun> {
  const logger = createLogger('Migrations');
  if (await isPreMigrationSchema(dataSource)) {
    await dataSource.synchronize();
    const recorded = await dataSource.runMigrations({ transaction: 'all', fake: true });
    logger.warn(
      { service, recorded: recorded.map((migration) => migration.name) },
      'schema built before migrations adopted',
    );

    return { service, applied: [], adopted: true };
  }
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  for (const migration of applied) {
    logger.info({ service, migration: migration.name }, 'migration applied');
  }

  return { service, applied: applied.map((migration) => migration.name), adopted: false };
}

/**
 * Runs the pending migrations of each service, creating its PostgreSQL schema first if needed.
 * On PostgreSQL the whole run holds an advisory lock: several pods' init containers start it at
 * once, and the second waits and then finds nothing to do.
 */
export async function migrateServices(
  schemas: readonly ServiceSchema[],
  config: Pick<TurnaroundConfig, 'databaseUrl' | 'dataDir'>,
): Promise<MigrationRun[]> {
  const migrateAll = async (before?: (service: ServiceName) => Promise<void>) => {
    const runs: MigrationRun[] = [];
    for (const schema of schemas) {
      await before?.(schema.service);
      const options = dataSourceOptions(schema.service, config, schema.entities, schema.migrations);
      const dataSource = await new DataSource(options).initialize();
      try {
        runs.push(await runMigrations(dataSource, schema.service));
      } finally {
        await dataSource.destroy();
      }
    }

    return runs;
  };
  if (!config.databaseUrl) {
    return migrateAll();
  }
  const lock = new pg.Client({ connectionString: config.databaseUrl });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]);

    return await migrateAll(async (service) => {
      await lock.query(`CREATE SCHEMA IF NOT EXISTS "${service}"`);
    });
  } finally {
    // Ending the session releases the lock too, even if the unlock fails.
    await lock.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK]).catch(() => {});
    await lock.end();
  }
}

async function hasMigrationsTable(dataSource: DataSource): Promise<boolean> {
  const runner = dataSource.createQueryRunner();
  try {
    return await runner.hasTable(migrationsTablePath(dataSource));
  } finally {
    await runner.release();
  }
}

async function isPreMigrationSchema(dataSource: DataSource): Promise<boolean> {
  if (await hasMigrationsTable(dataSource)) {
    return false;
  }
  const runner = dataSource.createQueryRunner();
  try {
    for (const metadata of dataSource.entityMetadatas) {
      if (await runner.hasTable(metadata.tablePath)) {
        return true;
      }
    }

    return false;
  } finally {
    await runner.release();
  }
}

function migrationsTablePath(dataSource: DataSource): string {
  const schema = dataSource.options.type === 'postgres' ? dataSource.options.schema : undefined;

  return dataSource.driver.buildTableName(MIGRATIONS_TABLE, schema);
}
