import 'reflect-metadata';

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as prettier from 'prettier';

import { createLogger, loadDatabaseConfig } from '@turnaround/platform';
import { DIALECTS, LOCAL_POSTGRES, ScratchDatabases } from '@turnaround/testing';

import {
  listMigrations,
  MIGRATION_NAME,
  migrationFileName,
  migrationsFolder,
  migrationSource,
  registrySource,
} from './migration-files.js';
import { schemaDrift } from './schema-drift.js';
import { SERVICE_SCHEMAS } from './services.js';

/**
 * `npm run migrations:generate -- <Name>`: for every service and dialect whose entities differ
 * from what its migrations build, writes a migration `<timestamp>-<Name>.ts` with the difference,
 * then rewrites each service's migration list. The migrations are run on scratch databases: a
 * temporary SQLite directory, and a temporary database on DATABASE_URL's PostgreSQL server (the
 * local one when unset), both removed afterwards.
 */
const logger = createLogger('GenerateMigrations');
// dist/apps/migrate/src/generate.js: the sources are four folders up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  if (!MIGRATION_NAME.test(name)) {
    throw new Error(`usage: npm run migrations:generate -- <Name> (PascalCase), got "${name}"`);
  }
  const timestamp = Date.now();
  const scratch = await ScratchDatabases.create(loadDatabaseConfig().databaseUrl ?? LOCAL_POSTGRES);
  const written: string[] = [];
  try {
    for (const schema of SERVICE_SCHEMAS) {
      for (const dialect of DIALECTS) {
        const changes = await schemaDrift(schema, scratch, dialect);
        if (changes.up.length === 0) {
          continue;
        }
        const file = join(
          migrationsFolder(schema.service),
          dialect,
          migrationFileName(name, timestamp),
        );
        const source = migrationSource(name, timestamp, changes, {
          service: schema.service,
          dialect,
        });
        await writeFormatted(file, source);
        written.push(file);
      }
    }
  } finally {
    await scratch.close();
  }
  for (const { service } of SERVICE_SCHEMAS) {
    const folder = migrationsFolder(service);
    const files = {
      postgres: listMigrations(join(root, folder, 'postgres')),
      sqlite: listMigrations(join(root, folder, 'sqlite')),
    };
    await writeFormatted(join(folder, `${service}.migrations.ts`), registrySource(service, files));
  }
  logger.info(
    { written },
    written.length > 0 ? 'migrations written; read them over' : 'no entity changes',
  );
}

async function writeFormatted(file: string, source: string): Promise<void> {
  const path = join(root, file);
  const options = (await prettier.resolveConfig(path)) ?? {};
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await prettier.format(source, { ...options, filepath: path }));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'could not generate migrations');
  process.exitCode = 1;
});
