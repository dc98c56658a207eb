import { randomBytes } from 'node:crypto';

import pg from 'pg';
import { Column, DataSource, Entity, PrimaryColumn, QueryFailedError } from 'typeorm';

import { DataGate } from './data-gate.js';

const POSTGRES = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

@Entity({ name: 'shelf' })
class ShelfEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  name!: string;

  @Column({ type: 'integer' })
  count!: number;
}

@Entity({ name: 'crate' })
class CrateEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ type: Date })
  packedAt!: Date;

  @Column({ type: 'boolean' })
  sealed!: boolean;

  @Column({ type: 'varchar', length: 32, nullable: true })
  label!: string | null;
}

async function onServer(
  work: (client: pg.Client) => Promise<unknown>,
  url: string = POSTGRES,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** Settles every promise callback and I/O turn queued so far, so a waiting promise shows it waits. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const database = `turnaround_gate_${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  await onServer((client) => client.query(`CREATE DATABASE "${database}"`));
});

afterAll(async () => {
  await onServer((client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
});

describe.each(['sqlite', 'postgres'] as const)('DataGate.select and write on %s', (dialect) => {
  let dataSource: DataSource;
  let gate: DataGate;
  let shelf: string;

  beforeAll(async () => {
    const url = new URL(POSTGRES);
    url.pathname = `/${database}`;
    dataSource = await new DataSource(
      dialect === 'sqlite'
        ? {
            type: 'better-sqlite3',
            database: ':memory:',
            entities: [ShelfEntity, CrateEntity],
            synchronize: true,
          }
        : {
            type: 'postgres',
            url: url.toString(),
            schema: 'stock',
            entities: [ShelfEntity, CrateEntity],
            synchronize: false,
          },
    );
    if (dialect === 'postgres') {
      await onServer(async (client) => {
        await client.query('CREATE SCHEMA stock');
        await client.query(
          'CREATE TABLE stock.shelf (name varchar(32) PRIMARY KEY, count integer NOT NULL)',
        );
        await client.query(
          'CREATE TABLE stock.crate (id varchar(32) PRIMARY KEY, "packedAt" timestamp NOT NULL, sealed boolean NOT NULL, label varchar(32))',
        );
      }, url.toString());
    }
    await dataSource.initialize();
    gate = DataGate.of(dataSource);
    shelf = gate.table(ShelfEntity);
    await dataSource.query(`DELETE FROM ${shelf}`);
    await gate.repository(ShelfEntity).insert([
      { name: 'apples', count: 3 },
      { name: 'pears', count: 5 },
    ]);
  });

  afterAll(async () => {
    await dataSource.destroy();
  });

  it('names the table with its schema where it has one', () => {
    expect(shelf).toBe(dialect === 'sqlite' ? '"shelf"' : '"stock"."shelf"');
  });

  it('binds numbered parameters wherever and however often they appear', async () => {
    const text = `SELECT name, count FROM ${shelf} WHERE count > $2 OR name = $1 OR name = $1 ORDER BY name`;

    expect(await gate.select(text, ['apples', 4])).toEqual([
      { name: 'apples', count: 3 },
      { name: 'pears', count: 5 },
    ]);
    // The same text again, prepared once, with other values.
    expect(await gate.select(text, ['none', 4])).toEqual([{ name: 'pears', count: 5 }]);
  });

  it('sees the rows its own unit of work wrote before they are committed', async () => {
    const seen = await gate.transaction(async (manager) => {
      await manager.insert(ShelfEntity, { name: 'plums', count: 1 });
      const rows = await gate.select<{ count: number }>(
        `SELECT count FROM ${shelf} WHERE name = $1`,
        ['plums'],
      );
      await manager.delete(ShelfEntity, { name: 'plums' });

      return rows;
    });

    expect(seen).toEqual([{ count: 1 }]);
  });

  it('never answers from another unit of work’s uncommitted rows', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    const unit = gate.transaction(async (manager) => {
      await manager.insert(ShelfEntity, { name: 'figs', count: 7 });
      inserted();
      await held;
      throw new Error('rolled back on purpose');
    });
    const rolledBack = expect(unit).rejects.toThrow('rolled back on purpose');
    await insertedYet;

    const read = gate.select(`SELECT name FROM ${shelf} WHERE name = $1`, ['figs']);
    if (dialect === 'sqlite') {
      // One shared connection: the read waits for the unit instead of reading inside it.
      let answered: unknown;
      void read.then((rows) => {
        answered = rows;
      });
      await settle();
      expect(answered).toBeUndefined();
    } else {
      // A pooled connection of its own: it answers at once, from committed rows only.
      expect(await read).toEqual([]);
    }
    release();
    await rolledBack;

    expect(await read).toEqual([]);
  });

  it('writes dates and booleans as TypeORM stores them, and returns what RETURNING gives', async () => {
    const crate = gate.table(CrateEntity);
    const packedAt = new Date('2026-12-05T02:07:38.894Z');
    const insert = `INSERT INTO ${crate} ("id", "packedAt", "sealed") VALUES ($1, $2, $3)
      ON CONFLICT ("id") DO NOTHING RETURNING "id"`;

    expect(await gate.write(insert, ['crate-1', packedAt, true])).toEqual({
      rows: [{ id: 'crate-1' }],
      affected: 1,
    });
    // A second insert of the key changes nothing and returns no row.
    expect(await gate.write(insert, ['crate-1', new Date(), false])).toEqual({
      rows: [],
      affected: 0,
    });
    expect(await gate.repository(CrateEntity).findOneByOrFail({ id: 'crate-1' })).toEqual({
      id: 'crate-1',
      packedAt,
      sealed: true,
      label: null,
    });
  });

  it('counts the rows a write changed, inside a unit of work and outside one', async () => {
    const crate = gate.table(CrateEntity);
    await gate.repository(CrateEntity).insert([
      { id: 'crate-2', packedAt: new Date(), sealed: false },
      { id: 'crate-3', packedAt: new Date(), sealed: false },
    ]);
    const seal = `UPDATE ${crate} SET "sealed" = $1 WHERE "id" IN ($2, $3)`;

    expect(await gate.write(seal, [true, 'crate-2', 'nothing'])).toEqual({ rows: [], affected: 1 });
    const inside = await gate.transaction(() => gate.write(seal, [true, 'crate-2', 'crate-3']));
    expect(inside.affected).toBe(2);
    expect(
      (await gate.repository(CrateEntity).findBy({ sealed: true })).map((row) => row.id).sort(),
    ).toEqual(expect.arrayContaining(['crate-2', 'crate-3']));
  });

  it('writes inside a unit of work that rolls back leave nothing', async () => {
    const crate = gate.table(CrateEntity);
    const unit = gate.transaction(async () => {
      await gate.write(`INSERT INTO ${crate} ("id", "packedAt", "sealed") VALUES ($1, $2, $3)`, [
        'crate-4',
        new Date(),
        true,
      ]);
      throw new Error('rolled back on purpose');
    });

    await expect(unit).rejects.toThrow('rolled back on purpose');
    expect(await gate.repository(CrateEntity).findOneBy({ id: 'crate-4' })).toBeNull();
  });

  it('fails a statement inside a unit of work with TypeORM’s QueryFailedError and the driver’s code', async () => {
    const crate = gate.table(CrateEntity);
    const insert = `INSERT INTO ${crate} ("id", "packedAt", "sealed") VALUES ($1, $2, $3)`;
    await gate.write(insert, ['crate-conflict', new Date(), true]);

    const failure = await gate
      .transaction(() => gate.write(insert, ['crate-conflict', new Date(), true]))
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(QueryFailedError);
    const code = (failure as QueryFailedError<Error & { code?: string }>).driverError.code;
    expect(code).toBe(dialect === 'sqlite' ? 'SQLITE_CONSTRAINT_PRIMARYKEY' : '23505');
  });

  if (dialect === 'postgres') {
    it('runs a statement inside a unit of work as a named prepared statement on the unit’s connection', async () => {
      const text = `SELECT count FROM ${shelf} WHERE name = $1 AND count >= $2`;

      const prepared = await gate.transaction(async () => {
        await gate.select(text, ['apples', 0]);

        return gate.select<{ statement: string }>(
          'SELECT statement FROM pg_prepared_statements WHERE statement = $1',
          [text],
        );
      });

      // PostgreSQL keeps the plan for the connection, instead of parsing the text on every call.
      expect(prepared).toEqual([{ statement: text }]);
    });
  }

  it('finds one entity by its columns as TypeORM hydrates it, locked inside a unit of work', async () => {
    await gate
      .repository(CrateEntity)
      .insert({ id: 'crate-5', packedAt: new Date('2026-01-02T03:04:05.678Z'), sealed: true });
    const expected = await gate.repository(CrateEntity).findOneByOrFail({ id: 'crate-5' });

    const found = await gate.findOneBy(CrateEntity, { id: 'crate-5' });
    expect(found).toEqual(expected);
    expect(found).toBeInstanceOf(CrateEntity);
    expect(await gate.findOneBy(CrateEntity, { sealed: true, id: 'crate-5' })).toEqual(expected);
    expect(await gate.findOneBy(CrateEntity, { id: 'crate-5', sealed: false })).toBeNull();
    // null means IS NULL, as TypeORM's IsNull(); undefined is refused rather than dropped.
    expect(await gate.findOneBy(CrateEntity, { id: 'crate-5', label: null })).toEqual(expected);
    await gate
      .repository(CrateEntity)
      .insert({ id: 'crate-6', packedAt: new Date(), sealed: true, label: 'fragile' });
    expect(await gate.findOneBy(CrateEntity, { id: 'crate-6', label: null })).toBeNull();
    expect(await gate.findOneBy(CrateEntity, { id: 'crate-6', label: 'fragile' })).toMatchObject({
      label: 'fragile',
    });
    await expect(gate.findOneBy(CrateEntity, { id: undefined })).rejects.toThrow('id is undefined');
    expect(
      await gate.transaction(() => gate.findOneBy(CrateEntity, { id: 'crate-5' }, { lock: true })),
    ).toEqual(expected);
    await expect(gate.findOneBy(CrateEntity, { colour: 'red' } as never)).rejects.toThrow(
      'CrateEntity has no column colour',
    );
  });

  it('updates rows by their columns as TypeORM persists the values', async () => {
    await gate
      .repository(CrateEntity)
      .insert({
        id: 'crate-7',
        packedAt: new Date('2026-01-01T00:00:00.000Z'),
        sealed: false,
        label: null,
      });
    const packedAt = new Date('2026-03-04T05:06:07.890Z');

    expect(
      await gate.updateBy(
        CrateEntity,
        { id: 'crate-7' },
        { packedAt, sealed: true, label: 'glass' },
      ),
    ).toBe(1);
    expect(await gate.repository(CrateEntity).findOneByOrFail({ id: 'crate-7' })).toEqual({
      id: 'crate-7',
      packedAt,
      sealed: true,
      label: 'glass',
    });
    // Undefined fields are left as they are; null clears; inside a unit of work it joins it.
    expect(
      await gate.transaction(() =>
        gate.updateBy(CrateEntity, { id: 'crate-7' }, { label: null, sealed: undefined }),
      ),
    ).toBe(1);
    expect(await gate.repository(CrateEntity).findOneByOrFail({ id: 'crate-7' })).toMatchObject({
      sealed: true,
      label: null,
    });
    expect(await gate.updateBy(CrateEntity, { id: 'no-such-crate' }, { sealed: true })).toBe(0);
    await expect(
      gate.updateBy(CrateEntity, { id: null as never }, { sealed: true }),
    ).rejects.toThrow('id must have a value');
  });
});
