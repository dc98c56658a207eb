import {
  itReadsThroughIndexes,
  onEachDatabase,
  PlannedOperation,
  StatementLog,
} from '@turnaround/testing';

import { cycleRow, deviceRow } from '../testing/cycles.js';
import { CycleRetentionRepository } from './cycle-retention.repository.js';
import { PROVISIONING_SCHEMA } from './migrations/provisioning.schema.js';
import { ProvisioningRepository } from './provisioning.repository.js';

/**
 * The cycle state machine's questions go straight to their rows through an index: cycles pile up
 * one per device per shift, and the timer asks twice a second whatever their number.
 */
describe('the RTS cycles’ query plans', () => {
  onEachDatabase(PROVISIONING_SCHEMA, { logger: () => new StatementLog() }, (database) => {
    const now = new Date('2026-06-01T12:00:00.000Z');
    let repository: ProvisioningRepository;

    beforeAll(async () => {
      repository = new ProvisioningRepository(database.dataSource);
      await repository.saveDevice(deviceRow('udid-plans', now));
      await repository.startCycle(cycleRow('cycle-plans', 'udid-plans', 'requested', now));
    });

    // The operation, and the index its main question must use (when it is not a primary key).
    const operations: PlannedOperation[] = [
      [
        'the current cycle of a device is read',
        async () => {
          const device = await repository.findDevice('udid-plans');
          await repository.findCycle(device!.currentCycleId!);
        },
      ],
      [
        'the timer looks for overdue cycles',
        () => repository.overdueCycles(now),
        'rts_cycles_state_deadline_at',
      ],
      [
        'the timer looks for due releases',
        () => repository.releaseDue(now),
        'rts_cycles_state_release_due_at',
      ],
      // Every branch names its state, so either of the two indexes led by the state may serve it.
      ['the timer looks for interrupted starts', () => repository.interruptedStarts(now)],
      [
        'the timer takes up an interrupted start',
        async () => {
          const cycle = await repository.findCycle('cycle-plans');
          await repository.claimInterruptedStart(cycle!, new Date());
        },
      ],
      [
        'a device’s cycles and their history are listed',
        async () => {
          const cycles = await repository.cyclesOf('udid-plans');
          await repository.transitionsOf(cycles.map((cycle) => cycle.id));
        },
        'rts_cycles_udid_requested_at',
      ],
      [
        'a cycle moves on, if it is still where it was read',
        async () => {
          const cycle = await repository.findCycle('cycle-plans');
          await repository.recordTransition(
            { ...cycle!, state: 'erase-queued' },
            'requested',
            'queued',
            now,
          );
        },
      ],
      ['metrics count the unfinished cycles', () => repository.countUnfinishedCycles()],
      [
        'retention deletes ended cycles',
        () => new CycleRetentionRepository(database.dataSource).deleteEnded(now, 500),
        'rts_cycles_ended_at',
      ],
    ];

    itReadsThroughIndexes(database, operations);
  });
});
