import type { ServiceSchema } from '@turnaround/platform';

import { PROVISIONING_ENTITIES } from '../provisioning.entities.js';
import { PROVISIONING_MIGRATIONS } from './provisioning.migrations.js';

/** The provisioning service's tables and the migrations that build them. */
export const PROVISIONING_SCHEMA: ServiceSchema = {
  service: 'provisioning',
  entities: PROVISIONING_ENTITIES,
  migrations: PROVISIONING_MIGRATIONS,
};
