import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

import { DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSourceOptions, EntitySchema } from 'typeorm';

import { ServiceName } from '@turnaround/contracts';

import { TurnaroundConfig } from './config.js';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type EntityClass = Function | EntitySchema;

/**
 * Each service owns its tables: on SQLite a file of its own, on PostgreSQL a schema of its own.
 * Nothing joins across services.
 */
export function dataSourceOptions(
  service: ServiceName,
  config: Pick<TurnaroundConfig, 'databaseUrl' | 'dataDir'>,
  entities: EntityClass[],
): DataSourceOptions {
  // TODO(#4): replace synchronize with migrations run by a command.
  if (config.databaseUrl) {
    return {
      type: 'postgres',
      url: config.databaseUrl,
      schema: service,
      entities,
      synchronize: true,
      extra: { max: 10 },
    };
  }
  // The databases hold push details and Wi-Fi profiles: readable by the service's user only.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  return {
    type: 'better-sqlite3',
    database: resolve(config.dataDir, `${service}.sqlite`),
    entities,
    synchronize: true,
    enableWAL: true,
    prepareDatabase: (db: { pragma(statement: string): unknown }) => {
      db.pragma('busy_timeout = 5000');
      db.pragma('synchronous = NORMAL');
    },
  };
}

/**
 * The named TypeORM connection of one service and its entities' repositories. Repositories inject
 * with the service's name.
 */
export function persistenceFor(
  service: ServiceName,
  config: TurnaroundConfig,
  entities: EntityClass[],
): DynamicModule[] {
  const connection = TypeOrmModule.forRootAsync({
    name: service,
    useFactory: async () => {
      if (config.databaseUrl) {
        await ensureSchema(config.databaseUrl, service);
      }

      return dataSourceOptions(service, config, entities);
    },
  });

  return [connection, TypeOrmModule.forFeature(entities, service)];
}

async function ensureSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (error) {
    // Two processes creating the same schema at once: the loser sees a unique violation.
    if ((error as { code?: string }).code !== '23505') {
      throw error;
    }
  } finally {
    await client.end();
  }
}
