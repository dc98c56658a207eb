import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';

import { QueryFailedError } from 'typeorm';
import type { DataSource, EntityManager, EntityTarget, ObjectLiteral, Repository } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';

import { SerialLanes } from './serial-lanes.js';

const gates = new WeakMap<DataSource, DataGate>();

/** A transaction in progress, seen by every repository call made inside it. */
interface Ambient {
  manager: EntityManager;
  afterCommit: (() => void)[];
  /** Set once the transaction ended: work that outlived it must not reuse its connection. */
  ended: boolean;
}

/** A {@link DataGate.select} text as each database runs it. */
interface PreparedStatement {
  name: string;
  sqlite?: string;
  /** For each `?` of the SQLite text, which parameter it takes. */
  order?: number[];
  prepared?: SqliteStatement;
}

/** The parts of better-sqlite3's connection and pg's pool the gate uses, as TypeORM holds them. */
interface SqliteStatement {
  /** Whether the statement returns rows (a SELECT, or a write with RETURNING). */
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

interface SqliteConnection {
  prepare(text: string): SqliteStatement;
}

interface PostgresPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/** A unit of work's TypeORM query runner, for the connection it holds (a pg client on PostgreSQL). */
interface UnitQueryRunner {
  connect(): Promise<PostgresPool>;
}

/** A {@link DataGate.findOneBy} statement of one entity and set of columns. */
interface KeyedRead {
  metadata: EntityMetadata;
  keys: ColumnMetadata[];
  text: string;
}

/** A {@link DataGate.updateBy} statement of one entity, set of columns to set and to find by. */
interface KeyedUpdate {
  set: ColumnMetadata[];
  where: ColumnMetadata[];
  text: string;
}

/** What a {@link DataGate.write} did: the rows its RETURNING gave, and how many rows it changed. */
export interface WriteResult<Row> {
  rows: Row[];
  affected: number;
}

const ambient = new AsyncLocalStorage<ReadonlyMap<DataSource, Ambient>>();

/** Marks work that already passed a gate's lane, so nested calls inside it do not queue behind it. */
interface Passage {
  gate: DataGate;
  inside: boolean;
}

const passage = new AsyncLocalStorage<Passage>();

/**
 * The one way a repository touches its database.
 *
 * Units of work: `transaction(work)` makes every repository call inside `work` (however deep, on
 * the same data source) join that one transaction, so a state change and the outbox rows of the
 * events it causes commit together or not at all. Nested `transaction` calls join the outer one.
 *
 * SQLite: TypeORM runs every better-sqlite3 query on one shared connection, so two transactions
 * (or a save, which opens one) started together fail with "cannot start a transaction within a
 * transaction"; the gate lets one unit of work in at a time there. PostgreSQL has a pool and real
 * isolation, so work passes straight through.
 */
export class DataGate {
  private readonly lanes = new SerialLanes();
  private readonly serial: boolean;
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly keyedReads = new Map<string, KeyedRead>();
  private readonly keyedUpdates = new Map<string, KeyedUpdate>();

  private constructor(private readonly dataSource: DataSource) {
    this.serial = dataSource.options.type === 'better-sqlite3';
  }

  static of(dataSource: DataSource): DataGate {
    let gate = gates.get(dataSource);
    if (!gate) {
      gate = new DataGate(dataSource);
      gates.set(dataSource, gate);
    }

    return gate;
  }

  /** Whether the caller runs inside a unit of work on this data source. */
  get inTransaction(): boolean {
    return this.current() !== undefined;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    const passed = passage.getStore();
    if (this.current() || !this.serial || (passed?.gate === this && passed.inside)) {
      return work();
    }

    return this.lanes.run('database', async () => {
      const mark: Passage = { gate: this, inside: true };
      try {
        return await passage.run(mark, work);
      } finally {
        // Work started inside and still running afterwards (a timer) must queue like anyone else.
        mark.inside = false;
      }
    });
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const joined = this.current();
    if (joined) {
      return work(joined.manager);
    }

    return this.run(async () => {
      const unit: Ambient = { manager: this.dataSource.manager, afterCommit: [], ended: false };
      try {
        const result = await this.dataSource.transaction((manager) => {
          unit.manager = manager;
          const scope = new Map(ambient.getStore() ?? []);
          scope.set(this.dataSource, unit);

          return ambient.run(scope, () => work(manager));
        });
        unit.ended = true;
        for (const hook of unit.afterCommit) {
          hook();
        }

        return result;
      } finally {
        unit.ended = true;
      }
    });
  }

  /**
   * Runs one read-only statement outside any transaction, for request paths hot enough that
   * TypeORM's per-query bookkeeping dominates them (a device's Idle). The text uses PostgreSQL's
   * `$1` placeholders; on SQLite they are rewritten to `?` once and the statement is prepared once,
   * on PostgreSQL it is a named prepared statement. Inside a unit of work it joins that transaction;
   * on SQLite outside one it waits in the lane, so it never sees another unit's uncommitted rows
   * on the shared connection.
   */
  async select<Row>(text: string, params: readonly unknown[]): Promise<Row[]> {
    return (await this.execute<Row>(text, params)).rows;
  }

  /**
   * Runs one writing statement as {@link select} runs a read: inside the unit of work if there is
   * one, else on its own (its own transaction). `RETURNING` rows come back in `rows` on both
   * databases. Dates and booleans are bound as TypeORM stores them, so rows written here read
   * back through entities unchanged.
   */
  write<Row = never>(text: string, params: readonly unknown[]): Promise<WriteResult<Row>> {
    return this.execute<Row>(text, params);
  }

  private async execute<Row>(text: string, params: readonly unknown[]): Promise<WriteResult<Row>> {
    const unit = this.current();
    const statement = this.statementFor(text);
    const ordered = statement.order ? statement.order.map((index) => params[index]) : [...params];
    const values = this.serial ? ordered.map(sqliteValue) : ordered;
    // TypeORM tells its logger of every statement it runs; these are told the same way.
    this.dataSource.logger.logQuery(statement.sqlite ?? text, values);
    if (unit) {
      return this.executeInUnit<Row>(unit, statement, text, values);
    }
    if (this.serial) {
      return this.run(async () => this.executeSqlite<Row>(statement, values));
    }
    const result = await this.postgresPool().query({ name: statement.name, text, values });

    return { rows: result.rows as Row[], affected: result.rowCount ?? 0 };
  }

  /**
   * A statement inside a unit of work, on the unit's connection, prepared as outside one: TypeORM's
   * query runner would have PostgreSQL parse and plan the text again on every call, and that was
   * a large part of PostgreSQL's CPU per device report. A failure is TypeORM's QueryFailedError,
   * as the runner's was, so callers tell conflicts apart the same way.
   */
  private async executeInUnit<Row>(
    unit: Ambient,
    statement: PreparedStatement,
    text: string,
    values: unknown[],
  ): Promise<WriteResult<Row>> {
    try {
      if (this.serial) {
        // SQLite has one connection, and the unit's transaction is open on it.
        return this.executeSqlite<Row>(statement, values);
      }
      const connection = await (unit.manager.queryRunner as unknown as UnitQueryRunner).connect();
      const result = await connection.query({ name: statement.name, text, values });

      return { rows: result.rows as Row[], affected: result.rowCount ?? 0 };
    } catch (error) {
      throw new QueryFailedError(statement.sqlite ?? text, values, error as Error);
    }
  }

  private executeSqlite<Row>(statement: PreparedStatement, values: unknown[]): WriteResult<Row> {
    const prepared = (statement.prepared ??= this.sqliteConnection().prepare(statement.sqlite!));
    if (prepared.reader) {
      const rows = prepared.all(...values) as Row[];

      return { rows, affected: rows.length };
    }

    return { rows: [], affected: prepared.run(...values).changes };
  }

  /**
   * The entity whose columns equal `where`, or null: TypeORM's `findOneBy` for the request and
   * event paths, with the statement written once per entity and set of columns and the row
   * hydrated by the driver column by column, as TypeORM would. `lock`: on PostgreSQL the row is
   * locked for the unit of work (`FOR UPDATE`); SQLite's one writer needs no lock.
   */
  async findOneBy<E extends ObjectLiteral>(
    target: EntityTarget<E>,
    where: Partial<E>,
    options: { lock?: boolean } = {},
  ): Promise<E | null> {
    const keys = Object.keys(where).sort();
    const nulls = new Set(keys.filter((key) => where[key] === null));
    const missing = keys.find((key) => where[key] === undefined);
    if (missing !== undefined) {
      // TypeORM would drop the condition and find any row: never what a caller means.
      throw new Error(`DataGate.findOneBy: ${missing} is undefined`);
    }
    const shape = keys.map((key) => (nulls.has(key) ? `${key} null` : key)).join(',');
    const name = `${this.dataSource.getMetadata(target).name}(${shape})${options.lock ? ' lock' : ''}`;
    let read = this.keyedReads.get(name);
    if (!read) {
      read = this.keyedRead(this.dataSource.getMetadata(target), keys, nulls, options.lock === true);
      this.keyedReads.set(name, read);
    }
    const [row] = await this.select<Record<string, unknown>>(
      read.text,
      read.keys.map((column) => column.getEntityValue(where)),
    );
    if (!row) {
      return null;
    }
    const entity = read.metadata.create() as E;
    for (const column of read.metadata.columns) {
      column.setEntityValue(entity, this.dataSource.driver.prepareHydratedValue(row[column.propertyName], column));
    }

    return entity;
  }

  /**
   * Sets `fields` on the rows whose columns equal `where` (no nulls there), as TypeORM's `update`
   * does, with the statement written once per entity and set of columns and each value prepared by
   * the driver as TypeORM persists it. Returns how many rows changed.
   */
  async updateBy<E extends ObjectLiteral>(target: EntityTarget<E>, where: Partial<E>, fields: Partial<E>): Promise<number> {
    const metadata = this.dataSource.getMetadata(target);
    const keys = Object.keys(where).sort();
    const names = Object.keys(fields)
      .filter((key) => fields[key] !== undefined)
      .sort();
    const text = `${metadata.name} SET ${names.join(',')} WHERE ${keys.join(',')}`;
    let update = this.keyedUpdates.get(text);
    if (!update) {
      update = this.keyedUpdate(metadata, names, keys);
      this.keyedUpdates.set(text, update);
    }
    const driver = this.dataSource.driver;
    const values = [
      ...update.set.map((column) => driver.preparePersistentValue(column.getEntityValue(fields), column)),
      ...update.where.map((column) => {
        const value = column.getEntityValue(where);
        if (value === null || value === undefined) {
          throw new Error(`DataGate.updateBy: ${column.propertyName} must have a value`);
        }

        return driver.preparePersistentValue(value, column);
      }),
    ];

    return (await this.write(update.text, values)).affected;
  }

  /** An entity's table as a {@link select} text names it: quoted, with its schema if it has one. */
  table(target: EntityTarget<ObjectLiteral>): string {
    const driver = this.dataSource.driver;

    return this.dataSource
      .getMetadata(target)
      .tablePath.split('.')
      .map((part) => driver.escape(part))
      .join('.');
  }

  /** The manager to use now: the unit of work's, or the data source's own outside one. */
  manager(): EntityManager {
    return this.current()?.manager ?? this.dataSource.manager;
  }

  repository<E extends ObjectLiteral>(target: EntityTarget<E>): Repository<E> {
    return this.manager().getRepository(target);
  }

  /** Runs `hook` once the current unit of work committed (at once outside one; never on rollback). */
  afterCommit(hook: () => void): void {
    const unit = this.current();
    if (unit) {
      unit.afterCommit.push(hook);
    } else {
      hook();
    }
  }

  private keyedRead(metadata: EntityMetadata, keys: string[], nulls: ReadonlySet<string>, lock: boolean): KeyedRead {
    if (metadata.relations.length > 0 || metadata.embeddeds.length > 0) {
      throw new Error(`DataGate.findOneBy reads flat entities only; ${metadata.name} has relations or embedded columns`);
    }
    const escape = (name: string) => this.dataSource.driver.escape(name);
    const columnOf = (key: string) => columnNamed(metadata, key);
    const keyColumns = keys.filter((key) => !nulls.has(key)).map(columnOf);
    const columns = metadata.columns.map((column) => `${escape(column.databaseName)} AS ${escape(column.propertyName)}`);
    const conditions = [
      ...keyColumns.map((column, index) => `${escape(column.databaseName)} = $${index + 1}`),
      ...[...nulls].map((key) => `${escape(columnOf(key).databaseName)} IS NULL`),
    ];
    const text =
      `SELECT ${columns.join(', ')} FROM ${this.table(metadata.target)} WHERE ${conditions.join(' AND ')} LIMIT 1` +
      (lock && !this.serial ? ' FOR UPDATE' : '');

    return { metadata, keys: keyColumns, text };
  }

  private keyedUpdate(metadata: EntityMetadata, names: string[], keys: string[]): KeyedUpdate {
    const escape = (name: string) => this.dataSource.driver.escape(name);
    const columnOf = (key: string) => columnNamed(metadata, key);
    if (names.length === 0 || keys.length === 0) {
      throw new Error(`DataGate.updateBy on ${metadata.name} needs fields to set and columns to find rows by`);
    }
    const set = names.map(columnOf);
    const where = keys.map(columnOf);
    const assignments = set.map((column, index) => `${escape(column.databaseName)} = $${index + 1}`);
    const conditions = where.map((column, index) => `${escape(column.databaseName)} = $${set.length + index + 1}`);

    return {
      set,
      where,
      text: `UPDATE ${this.table(metadata.target)} SET ${assignments.join(', ')} WHERE ${conditions.join(' AND ')}`,
    };
  }

  private statementFor(text: string): PreparedStatement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = {
        // Names are per connection on PostgreSQL; a digest keeps one text one name.
        name: `turnaround_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`,
      };
      if (this.serial) {
        const order: number[] = [];
        statement.sqlite = text.replace(/\$(\d+)/g, (_match, position: string) => {
          order.push(Number(position) - 1);

          return '?';
        });
        statement.order = order;
      }
      this.statements.set(text, statement);
    }

    return statement;
  }

  private sqliteConnection(): SqliteConnection {
    return (this.dataSource.driver as unknown as { databaseConnection: SqliteConnection })
      .databaseConnection;
  }

  private postgresPool(): PostgresPool {
    return (this.dataSource.driver as unknown as { master: PostgresPool }).master;
  }

  private current(): Ambient | undefined {
    const unit = ambient.getStore()?.get(this.dataSource);

    return unit && !unit.ended ? unit : undefined;
  }
}

/** A value as TypeORM binds it on SQLite: dates as UTC `YYYY-MM-DD HH:MM:SS.SSS`, booleans as 0/1. */
function sqliteValue(value: unknown): unknown {
  if (value instanceof Date) {
    return value.toISOString().slice(0, 23).replace('T', ' ');
  }
  if (typeof value === 'boolean') {
    return value ? 1 : 0;
  }

  return value;
}

function columnNamed(metadata: EntityMetadata, key: string): ColumnMetadata {
  const column = metadata.findColumnWithPropertyName(key);
  if (!column) {
    throw new Error(`${metadata.name} has no column ${key}`);
  }

  return column;
}
