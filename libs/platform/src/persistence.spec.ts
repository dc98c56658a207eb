import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DataSource } from 'typeorm';

import { dataSourceOptions, SQLITE_WAL_AUTOCHECKPOINT_PAGES } from './persistence.js';

describe('the SQLite connection of a service', () => {
  let dataDir: string;
  let dataSource: DataSource;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'turnaround-persistence-'));
    dataSource = new DataSource(dataSourceOptions('commands', { databaseUrl: undefined, dataDir }, []));
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function pragma(name: string): Promise<unknown> {
    // One row of one column, named after the pragma or not (busy_timeout answers as "timeout").
    const [row] = (await dataSource.query(`PRAGMA ${name}`)) as Record<string, unknown>[];

    return row === undefined ? undefined : Object.values(row)[0];
  }

  it('writes ahead, syncs at checkpoints only, and checkpoints every 10,000 pages', async () => {
    expect(await pragma('journal_mode')).toBe('wal');
    // 1 is NORMAL: a commit survives the process dying; only an OS crash may lose the last ones.
    expect(await pragma('synchronous')).toBe(1);
    expect(SQLITE_WAL_AUTOCHECKPOINT_PAGES).toBe(10_000);
    expect(await pragma('wal_autocheckpoint')).toBe(SQLITE_WAL_AUTOCHECKPOINT_PAGES);
  });

  it('keeps a 2 MB page cache and waits up to 5 s for a lock', async () => {
    expect(await pragma('cache_size')).toBe(-2000);
    expect(await pragma('busy_timeout')).toBe(5000);
  });
});
