import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource, In, Logger } from 'typeorm';

import { dataSourceOptions, loadConfig, persistenceFor } from '@turnaround/platform';
import { onEachDatabase } from '@turnaround/testing';

import { CommandQueueRepository } from './command-queue.repository.js';
import { EnrollmentQueueEntity } from './commands.entities.js';
import { COMMANDS_SCHEMA } from './migrations/commands.schema.js';
import { LastSeenRepository } from './last-seen.repository.js';

/** A logger that keeps every statement the data source runs, in order. */
function statementLog(): Logger & { statements: string[] } {
  const statements: string[] = [];
  const ignore = () => undefined;

  return {
    statements,
    logQuery: (query) => void statements.push(query),
    logQueryError: ignore,
    logQuerySlow: ignore,
    logSchemaBuild: ignore,
    logMigration: ignore,
    log: ignore,
  };
}

const writesLastSeen = (statement: string) => /^UPDATE\b.*"lastSeenAt"/s.test(statement);

async function lastSeenOf(
  dataSource: DataSource,
  enrollmentIds: string[],
): Promise<(number | null)[]> {
  const rows = await dataSource.getRepository(EnrollmentQueueEntity).find({
    select: { enrollmentId: true, lastSeenAt: true },
    where: { enrollmentId: In(enrollmentIds) },
  });
  const byId = new Map(rows.map((row) => [row.enrollmentId, row.lastSeenAt]));

  return enrollmentIds.map((id) => byId.get(id)?.getTime() ?? null);
}

describe('last seen times', () => {
  onEachDatabase(COMMANDS_SCHEMA, { logger: statementLog }, (database) => {
    const { dialect } = database;
    const { statements } = database.logger;
    let lastSeen: LastSeenRepository;
    let queue: CommandQueueRepository;

    beforeAll(() => {
      lastSeen = new LastSeenRepository(database.dataSource);
      queue = new CommandQueueRepository(database.dataSource, lastSeen);
    });

    beforeEach(() => {
      statements.length = 0;
    });

    it('writes nothing per device request, then one statement for every device at the flush', async () => {
      const enrollments = ['LS-A', 'LS-B', 'LS-C'].map((id) => `${dialect}-${id}`);
      const before = Date.now();
      for (let round = 0; round < 20; round += 1) {
        for (const enrollmentId of enrollments) {
          await queue.report({ udid: `udid-${enrollmentId}`, enrollmentId, status: 'Idle' });
        }
      }
      const afterRequests = Date.now();

      expect(statements.filter(writesLastSeen)).toEqual([]);
      await expect(lastSeen.flush()).resolves.toBe(3);
      expect(statements.filter(writesLastSeen)).toHaveLength(1);
      for (const seen of await lastSeenOf(database.dataSource, enrollments)) {
        expect(seen).toBeGreaterThanOrEqual(before);
        expect(seen).toBeLessThanOrEqual(afterRequests);
      }

      statements.length = 0;
      await expect(lastSeen.flush()).resolves.toBe(0);
      expect(statements.filter(writesLastSeen)).toEqual([]);
    });

    it('keeps the latest time of each device, whatever order the requests ended in', async () => {
      const [first, second] = [`${dialect}-LS-D`, `${dialect}-LS-E`];
      for (const enrollmentId of [first, second]) {
        await queue.report({ udid: `udid-${enrollmentId}`, enrollmentId, status: 'Idle' });
      }
      await lastSeen.flush();
      const times = [
        new Date('2026-03-01T10:00:02.000Z'),
        new Date('2026-03-01T10:00:05.000Z'),
        new Date('2026-03-01T10:00:03.000Z'),
      ];

      for (const at of times) {
        lastSeen.note(first, at);
      }
      lastSeen.note(second, times[0]!);
      await lastSeen.flush();

      expect(await lastSeenOf(database.dataSource, [first, second])).toEqual([
        times[1]!.getTime(),
        times[0]!.getTime(),
      ]);
    });
  });

  it('writes what it holds when the application shuts down, before the database closes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'turnaround-last-seen-'));
    const config = loadConfig({ TURNAROUND_DATA_DIR: dataDir });
    const seen = new Date('2026-03-01T10:00:00.000Z');

    @Module({ imports: persistenceFor(COMMANDS_SCHEMA, config), providers: [LastSeenRepository] })
    class LastSeenModule {}

    const app = await NestFactory.create(LastSeenModule, { logger: false });
    await app.init();
    await app
      .get<DataSource>(getDataSourceToken('commands'))
      .query(
        `INSERT INTO enrollments ("enrollmentId", udid, status, "updatedAt") VALUES ('LS-F', 'udid-F', 'active', '2026-03-01 09:00:00.000')`,
      );
    app.get(LastSeenRepository).note('LS-F', seen);
    await app.close();

    const options = dataSourceOptions('commands', config, COMMANDS_SCHEMA.entities);
    const reopened = await new DataSource(options).initialize();
    try {
      expect(await lastSeenOf(reopened, ['LS-F'])).toEqual([seen.getTime()]);
    } finally {
      await reopened.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
