import type { ServiceSchema } from '@turnaround/platform';

/**
 * A schema with no tables and no migrations of its own, for specs of the messaging library: the
 * outbox and inbox tables belong to every service's migrations, none of which that library may
 * import, so a scratch database gets them from the entities (`synchronize`) instead.
 */
export function messagingOnlySchema(service: ServiceSchema['service']): ServiceSchema {
  return { service, entities: [], migrations: { postgres: [], sqlite: [] } };
}
