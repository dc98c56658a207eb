import type { ServiceSchema } from '@turnaround/platform';

import { CHECKIN_ENTITIES } from '../checkin.entities.js';
import { CHECKIN_MIGRATIONS } from './checkin.migrations.js';

/** The check-in service's tables and the migrations that build them. */
export const CHECKIN_SCHEMA: ServiceSchema = {
  service: 'checkin',
  entities: CHECKIN_ENTITIES,
  migrations: CHECKIN_MIGRATIONS,
};
