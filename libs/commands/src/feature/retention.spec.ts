import { RETENTION_BATCH } from '@turnaround/platform';
import { daysAgo, onEachDatabase, RETENTION_NOW } from '@turnaround/testing';

import {
  CommandRetentionRepository,
  FINISHED_STATES,
} from '../data-access/command-retention.repository.js';
import { CommandEntity } from '../data-access/commands.entities.js';
import { COMMANDS_SCHEMA } from '../data-access/migrations/commands.schema.js';
import { CommandState, PENDING_STATES } from '../domain/queue-rules.js';
import { CommandsRetentionService } from './retention.service.js';

const NOW = RETENTION_NOW;

function command(commandUuid: string, state: CommandState, updatedAt: Date): CommandEntity {
  return Object.assign(new CommandEntity(), {
    enrollmentId: 'E-RETENTION',
    commandUuid,
    udid: 'udid-retention',
    requestType: 'InstallProfile',
    body: 'PGRpY3Q+PC9kaWN0Pg==',
    bootstrapTokenReason: null,
    whileAwaitingConfiguration: false,
    sequence: 1,
    state,
    deliveries: 1,
    notNowSessionId: null,
    correlationId: null,
    queuedAt: updatedAt,
    lastDeliveredAt: updatedAt,
    lastReportAt: updatedAt,
    updatedAt,
  });
}

describe('the commands service’s retention', () => {
  it('counts every state as either pending or finished, never both', () => {
    for (const state of FINISHED_STATES) {
      expect(PENDING_STATES).not.toContain(state);
    }
    expect(FINISHED_STATES.length + PENDING_STATES.length).toBe(8);
  });

  onEachDatabase(COMMANDS_SCHEMA, (database) => {
    let retention: CommandsRetentionService;

    beforeAll(() => {
      retention = new CommandsRetentionService(
        { retentionDays: 30 },
        new CommandRetentionRepository(database.dataSource),
      );
    });

    beforeEach(async () => {
      await database.dataSource.getRepository(CommandEntity).clear();
    });

    it('deletes finished commands older than the retention, and nothing pending or recent', async () => {
      const { dataSource } = database;
      const old = FINISHED_STATES.map((state) => command(`old-${state}`, state, daysAgo(31)));
      const kept = [
        ...FINISHED_STATES.map((state) => command(`recent-${state}`, state, daysAgo(29))),
        ...PENDING_STATES.map((state) => command(`waiting-${state}`, state, daysAgo(90))),
      ];
      await dataSource.getRepository(CommandEntity).insert([...old, ...kept]);

      const deleted = await retention.purge(NOW);

      expect(deleted).toEqual({ commands: old.length });
      const left = await dataSource
        .getRepository(CommandEntity)
        .find({ order: { commandUuid: 'ASC' } });
      expect(left.map((row) => row.commandUuid)).toEqual(kept.map((row) => row.commandUuid).sort());
    });

    it('deletes a backlog in several batches within one pass', async () => {
      const { dataSource } = database;
      const backlog = Array.from({ length: RETENTION_BATCH * 2 + 7 }, (_, index) =>
        command(`backlog-${String(index).padStart(5, '0')}`, 'acknowledged', daysAgo(45)),
      );
      for (let start = 0; start < backlog.length; start += 100) {
        await dataSource.getRepository(CommandEntity).insert(backlog.slice(start, start + 100));
      }

      await expect(retention.purge(NOW)).resolves.toEqual({ commands: backlog.length });
      expect(await dataSource.getRepository(CommandEntity).count()).toBe(0);
    });
  });
});
