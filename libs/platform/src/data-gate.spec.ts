import { randomBytes } from 'node:crypto';

import pg from 'pg';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';

import { DataGate } from './data-gate.js';

const POSTGRES = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

@Entity({ name: 'shelf' })
class ShelfEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  name!: string;

  @Column({ type: 'integer' })
  count!: number;
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

describe.each(['sqlite', 'postgres'] as const)('DataGate.select on %s', (dialect) => {
  let dataSource: DataSource;
  let gate: DataGate;
  let shelf: string;

  beforeAll(async () => {
    const url = new URL(POSTGRES);
    url.pathname = `/${database}`;
    dataSource = await new DataSource(
      dialect === 'sqlite'
        ? { type: 'better-sqlite3', database: ':memory:', entities: [ShelfEntity], synchronize: true }
        : {
            type: 'postgres',
            url: url.toString(),
            schema: 'stock',
            entities: [ShelfEntity],
            synchronize: false,
          },
    );
    if (dialect === 'postgres') {
      await onServer(async (client) => {
        await client.query('CREATE SCHEMA stock');
        await client.query(
          'CREATE TABLE stock.shelf (name varchar(32) PRIMARY KEY, count integer NOT NULL)',
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
});
