import { DataSource, Logger } from 'typeorm';

import { ServiceSchema, setLogLevel } from '@turnaround/platform';

import { Dialect, DIALECTS, LOCAL_POSTGRES, ScratchDatabases } from './scratch-databases.js';

/** One dialect's migrated scratch database, as `onEachDatabase` hands it to a spec. */
export interface OpenDatabase<L extends Logger | undefined> {
  readonly dialect: Dialect;
  /** Open from the body's own `beforeAll` hooks on; reading it earlier throws. */
  readonly dataSource: DataSource;
  /** What the `logger` option made for this dialect; it sees every statement. */
  readonly logger: L;
}

export interface OnEachDatabaseOptions<L extends Logger> {
  /** Called once per dialect, before the body, so the body can keep the logger from the start. */
  logger: () => L;
}

type Body<L extends Logger | undefined> = (database: OpenDatabase<L>) => void;

/**
 * Runs `body` once per dialect, inside `describe('on <dialect>')`, against `schema` migrated on a
 * scratch database of its own. Call it inside a spec's `describe`: the scratch databases live as
 * long as that block. The data source opens before the body's `beforeAll` hooks run and closes
 * after its `afterAll` hooks.
 */
export function onEachDatabase(schema: ServiceSchema, body: Body<undefined>): void;
export function onEachDatabase<L extends Logger>(
  schema: ServiceSchema,
  options: OnEachDatabaseOptions<L>,
  body: Body<L>,
): void;
export function onEachDatabase<L extends Logger | undefined>(
  schema: ServiceSchema,
  ...rest: [Body<L>] | [{ logger: () => L }, Body<L>]
): void {
  const [options, body] = rest.length === 1 ? [undefined, ...rest] : rest;
  let scratch: ScratchDatabases | undefined;

  beforeAll(async () => {
    setLogLevel(process.env.TEST_LOG_LEVEL ?? 'silent');
    scratch = await ScratchDatabases.create(process.env.TEST_POSTGRES_URL ?? LOCAL_POSTGRES);
  });

  afterAll(async () => {
    await scratch?.close();
  });

  describe.each(DIALECTS)('on %s', (dialect) => {
    // The overloads pair a missing factory with L = undefined.
    const logger = options?.logger() as L;
    let dataSource: DataSource | undefined;

    // Jest runs the hooks of one block in the order they were declared: opening before the
    // body's hooks and closing after them lets those hooks use the data source.
    beforeAll(async () => {
      if (!scratch) {
        throw new Error('the scratch databases were not created');
      }

      dataSource = await scratch.open(schema, dialect, logger);
    });

    body({
      dialect,
      logger,
      get dataSource(): DataSource {
        if (!dataSource) {
          throw new Error(`the ${dialect} database is not open yet: read it from a hook or a test`);
        }

        return dataSource;
      },
    });

    afterAll(async () => {
      await dataSource?.destroy();
    });
  });
}
