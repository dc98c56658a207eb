import { daysAgo, onEachDatabase, RETENTION_NOW } from '@turnaround/testing';

import { CycleRetentionRepository } from '../data-access/cycle-retention.repository.js';
import { PROVISIONING_SCHEMA } from '../data-access/migrations/provisioning.schema.js';
import { RtsCycleEntity, RtsCycleTransitionEntity } from '../data-access/provisioning.entities.js';
import { cycleRow } from '../testing/cycles.js';
import { ProvisioningRetentionService } from './retention.service.js';

const NOW = RETENTION_NOW;

describe('the provisioning service’s retention', () => {
  onEachDatabase(PROVISIONING_SCHEMA, (database) => {
    it('deletes finished cycles older than the retention with their history, never a running one', async () => {
      const { dataSource } = database;
      const cycles = [
        cycleRow('returned-long-ago', 'udid-1', 'returned-to-service', daysAgo(40)),
        cycleRow('failed-long-ago', 'udid-2', 'failed', daysAgo(31)),
        cycleRow('returned-lately', 'udid-1', 'returned-to-service', daysAgo(29)),
        cycleRow('stalled-long-ago', 'udid-3', 'stalled', daysAgo(60)),
        cycleRow('blocked-long-ago', 'udid-4', 'blocked', daysAgo(60)),
      ];
      await dataSource.getRepository(RtsCycleEntity).insert(cycles);
      await dataSource.getRepository(RtsCycleTransitionEntity).insert(
        cycles.flatMap((cycle) => [
          {
            cycleId: cycle.id,
            fromState: null,
            toState: 'requested' as const,
            reason: null,
            at: cycle.requestedAt,
          },
          {
            cycleId: cycle.id,
            fromState: 'requested' as const,
            toState: cycle.state,
            reason: 'test',
            at: cycle.requestedAt,
          },
        ]),
      );
      const retention = new ProvisioningRetentionService(
        { retentionDays: 30 },
        new CycleRetentionRepository(dataSource),
      );

      await expect(retention.purge(NOW)).resolves.toEqual({ cycles: 2 });
      const left = await dataSource.getRepository(RtsCycleEntity).find({ order: { id: 'ASC' } });
      expect(left.map((cycle) => cycle.id)).toEqual([
        'blocked-long-ago',
        'returned-lately',
        'stalled-long-ago',
      ]);
      const history = await dataSource.getRepository(RtsCycleTransitionEntity).find();
      expect([...new Set(history.map((transition) => transition.cycleId))].sort()).toEqual(
        left.map((cycle) => cycle.id),
      );
    });
  });
});
