import { CHECKIN_SCHEMA } from '@turnaround/checkin';
import { COMMANDS_SCHEMA } from '@turnaround/commands';
import { ESCROW_SCHEMA } from '@turnaround/escrow';
import type { ServiceSchema } from '@turnaround/platform';
import { PROVISIONING_SCHEMA } from '@turnaround/provisioning';

/** Every service's schema, in the order the migrate command runs them. */
export const SERVICE_SCHEMAS: readonly ServiceSchema[] = [
  CHECKIN_SCHEMA,
  COMMANDS_SCHEMA,
  ESCROW_SCHEMA,
  PROVISIONING_SCHEMA,
];

export class UnknownServiceError extends Error {
  readonly code = 'MIGRATE.UNKNOWN_SERVICE';
}

/** The schemas of the services named, in run order; all of them when none is named. */
export function schemasNamed(names: readonly string[]): ServiceSchema[] {
  const unknown = names.filter(
    (name) => !SERVICE_SCHEMAS.some((schema) => schema.service === name),
  );
  if (unknown.length > 0) {
    const known = SERVICE_SCHEMAS.map((schema) => schema.service).join(', ');
    throw new UnknownServiceError(
      `no service named ${unknown.join(', ')}; the services are ${known}`,
    );
  }

  return SERVICE_SCHEMAS.filter((schema) => names.length === 0 || names.includes(schema.service));
}
