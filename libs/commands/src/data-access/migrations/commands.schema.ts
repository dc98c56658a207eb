import type { ServiceSchema } from '@turnaround/platform';

import { COMMANDS_ENTITIES } from '../commands.entities.js';
import { COMMANDS_MIGRATIONS } from './commands.migrations.js';

/** The commands service's tables and the migrations that build them. */
export const COMMANDS_SCHEMA: ServiceSchema = {
  service: 'commands',
  entities: COMMANDS_ENTITIES,
  migrations: COMMANDS_MIGRATIONS,
};
