// Written by `npm run migrations:generate`: every migration in this folder, oldest first.
import type { ServiceMigrations } from '@turnaround/platform';

import { Initial1796420200197 as PostgresInitial1796420200197 } from './postgres/1796420200197-Initial.js';
import { CycleLockChecked1796436111092 as PostgresCycleLockChecked1796436111092 } from './postgres/1796436111092-CycleLockChecked.js';
import { Initial1796420200197 as SqliteInitial1796420200197 } from './sqlite/1796420200197-Initial.js';
import { CycleLockChecked1796436111092 as SqliteCycleLockChecked1796436111092 } from './sqlite/1796436111092-CycleLockChecked.js';

export const PROVISIONING_MIGRATIONS: ServiceMigrations = {
  postgres: [PostgresInitial1796420200197, PostgresCycleLockChecked1796436111092],
  sqlite: [SqliteInitial1796420200197, SqliteCycleLockChecked1796436111092],
};
