import type { DataSource, Logger } from 'typeorm';

/** A statement a data source ran, with its parameters as the driver got them. */
export interface LoggedStatement {
  query: string;
  parameters: unknown[];
}

/** A TypeORM logger that keeps every statement, to look at what a repository method ran. */
export class StatementLog implements Logger {
  readonly statements: LoggedStatement[] = [];

  logQuery(query: string, parameters?: unknown[]): void {
    this.statements.push({ query, parameters: parameters ?? [] });
  }

  logQueryError(): void {}

  logQuerySlow(): void {}

  logSchemaBuild(): void {}

  logMigration(): void {}

  log(): void {}

  /** The statements `work` ran that read or change rows (what a plan can be asked for). */
  async during(work: () => Promise<unknown>): Promise<LoggedStatement[]> {
    const from = this.statements.length;
    await work();

    return this.statements
      .slice(from)
      .filter(
        (statement) =>
          /^\s*(SELECT|UPDATE|DELETE)\b/i.test(statement.query) &&
          /\bFROM\b|\bUPDATE\b/i.test(statement.query),
      );
  }
}

/**
 * How the database would run `statement`: SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN
 * with sequential scans priced out, so that on small test tables it still picks an index
 * whenever there is one that fits (and shows a Seq Scan when there is none).
 */
export async function queryPlan(
  dataSource: DataSource,
  statement: LoggedStatement,
): Promise<string> {
  const runner = dataSource.createQueryRunner();
  try {
    if (dataSource.options.type === 'postgres') {
      await runner.query('SET enable_seqscan = off');
      try {
        const rows: { 'QUERY PLAN': string }[] = await runner.query(
          `EXPLAIN ${statement.query}`,
          statement.parameters,
        );

        return rows.map((row) => row['QUERY PLAN']).join('\n');
      } finally {
        await runner.query('RESET enable_seqscan');
      }
    }
    const rows: { detail: string }[] = await runner.query(
      `EXPLAIN QUERY PLAN ${statement.query}`,
      statement.parameters,
    );

    return rows.map((row) => row.detail).join('\n');
  } finally {
    await runner.release();
  }
}

/** Whether a plan reads a table whole instead of going through an index. */
export function scansWholeTable(plan: string): boolean {
  return (
    /\bSeq Scan\b/.test(plan) ||
    /^SCAN \S+$/m.test(plan) ||
    /^SCAN \S+ USING (COVERING )?INDEX/m.test(plan)
  );
}

/** A repository operation, and the index its main question must use (when not a primary key). */
export type PlannedOperation = readonly [
  name: string,
  work: () => Promise<unknown>,
  index?: string,
];

/**
 * One test per operation: every statement it runs reads through an index (no whole-table scan),
 * and the named index is among the plans. `database` is read when the tests run.
 */
export function itReadsThroughIndexes(
  database: { readonly dataSource: DataSource; readonly logger: StatementLog },
  operations: readonly PlannedOperation[],
): void {
  // Every row as long as the test function's parameters: jest would take a missing one for `done`.
  const rows = operations.map(([name, work, index]) => [name, work, index ?? null] as const);

  it.each(rows)('reads through an index when %s', async (_name, work, index) => {
    const statements = await database.logger.during(work);
    const plans: string[] = [];

    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const plan = await queryPlan(database.dataSource, statement);
      plans.push(plan);
      expect({ statement: statement.query, plan, wholeTable: scansWholeTable(plan) }).toEqual({
        statement: statement.query,
        plan,
        wholeTable: false,
      });
    }
    if (index) {
      expect(plans.join('\n')).toContain(index);
    }
  });
}
