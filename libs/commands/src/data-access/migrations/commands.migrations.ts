// Written by `npm run migrations:generate`: every migration in this folder, oldest first.
import type { ServiceMigrations } from '@turnaround/platform';

import { Initial1796420200197 as PostgresInitial1796420200197 } from './postgres/1796420200197-Initial.js';
import { ProfileAttachment1796424811664 as PostgresProfileAttachment1796424811664 } from './postgres/1796424811664-ProfileAttachment.js';
import { Initial1796420200197 as SqliteInitial1796420200197 } from './sqlite/1796420200197-Initial.js';
import { ProfileAttachment1796424811664 as SqliteProfileAttachment1796424811664 } from './sqlite/1796424811664-ProfileAttachment.js';

export const COMMANDS_MIGRATIONS: ServiceMigrations = {
  postgres: [PostgresInitial1796420200197, PostgresProfileAttachment1796424811664],
  sqlite: [SqliteInitial1796420200197, SqliteProfileAttachment1796424811664],
};
