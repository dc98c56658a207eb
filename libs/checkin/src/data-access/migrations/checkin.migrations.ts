// Written by `npm run migrations:generate`: every migration in this folder, oldest first.
import type { ServiceMigrations } from '@turnaround/platform';

import { Initial1796420200197 as PostgresInitial1796420200197 } from './postgres/1796420200197-Initial.js';
import { ScepChallenges1796425445694 as PostgresScepChallenges1796425445694 } from './postgres/1796425445694-ScepChallenges.js';
import { Initial1796420200197 as SqliteInitial1796420200197 } from './sqlite/1796420200197-Initial.js';
import { ScepChallenges1796425445694 as SqliteScepChallenges1796425445694 } from './sqlite/1796425445694-ScepChallenges.js';

export const CHECKIN_MIGRATIONS: ServiceMigrations = {
  postgres: [PostgresInitial1796420200197, PostgresScepChallenges1796425445694],
  sqlite: [SqliteInitial1796420200197, SqliteScepChallenges1796425445694],
};
