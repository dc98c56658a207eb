import 'reflect-metadata';

import { createLogger, loadDatabaseConfig, migrateServices } from '@turnaround/platform';

import { schemasNamed } from './services.js';

/**
 * `npm run migrate [service...]`: applies the pending migrations of every service (or of those
 * named) to DATABASE_URL, one PostgreSQL schema per service, or to the SQLite files in the data
 * directory. Exits 0 when every schema is up to date, 1 otherwise. Services on PostgreSQL refuse
 * to start until it has run; Compose and Kubernetes run it before them.
 */
const logger = createLogger('Migrate');

async function main(): Promise<void> {
  const schemas = schemasNamed(process.argv.slice(2));
  const config = loadDatabaseConfig();
  const runs = await migrateServices(schemas, config);
  logger.info(
    {
      database: config.databaseUrl ? 'postgresql' : 'sqlite',
      services: runs.map((run) => run.service),
      applied: runs.reduce((total, run) => total + run.applied.length, 0),
      adopted: runs.filter((run) => run.adopted).map((run) => run.service),
    },
    'schemas up to date',
  );
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'migration failed');
  process.exitCode = 1;
});
