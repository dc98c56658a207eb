import type { ServiceSchema } from '@turnaround/platform';

import { ESCROW_ENTITIES } from '../escrow.entities.js';
import { ESCROW_MIGRATIONS } from './escrow.migrations.js';

/** The escrow service's tables and the migrations that build them. */
export const ESCROW_SCHEMA: ServiceSchema = {
  service: 'escrow',
  entities: ESCROW_ENTITIES,
  migrations: ESCROW_MIGRATIONS,
};
