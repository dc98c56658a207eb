import type { ServiceSchema } from '@turnaround/platform';
import { Dialect, ScratchDatabases } from '@turnaround/testing';

/** One statement of a schema change, with its parameters if it has any. */
export interface SchemaStatement {
  query: string;
  parameters?: unknown[];
}

/** The statements that make a change, and those that undo it (in the order they were found). */
export interface SchemaChanges {
  up: SchemaStatement[];
  down: SchemaStatement[];
}

/**
 * What the schema builder would still change after every migration of the service has run on a
 * scratch database: nothing when the migrations build exactly what the entities describe.
 */
export async function schemaDrift(
  schema: ServiceSchema,
  scratch: ScratchDatabases,
  dialect: Dialect,
): Promise<SchemaChanges> {
  const dataSource = await scratch.open(schema, dialect);
  try {
    const changes = await dataSource.driver.createSchemaBuilder().log();
    const statement = ({ query, parameters }: SchemaStatement): SchemaStatement =>
      parameters && parameters.length > 0 ? { query, parameters } : { query };

    return { up: changes.upQueries.map(statement), down: changes.downQueries.map(statement) };
  } finally {
    await dataSource.destroy();
  }
}
