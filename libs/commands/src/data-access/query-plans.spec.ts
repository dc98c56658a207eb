import {
  itReadsThroughIndexes,
  onEachDatabase,
  PlannedOperation,
  StatementLog,
} from '@turnaround/testing';

import { CommandQueueRepository } from './command-queue.repository.js';
import { CommandRetentionRepository } from './command-retention.repository.js';
import { LastSeenRepository } from './last-seen.repository.js';
import { COMMANDS_SCHEMA } from './migrations/commands.schema.js';

/**
 * Every statement of the queue's per-request work goes straight to its rows through an index:
 * the queue grows by every command ever sent, and a device request must not read it whole.
 */
describe('the command queue’s query plans', () => {
  onEachDatabase(COMMANDS_SCHEMA, { logger: () => new StatementLog() }, (database) => {
    let queue: CommandQueueRepository;
    let lastSeen: LastSeenRepository;

    beforeAll(async () => {
      lastSeen = new LastSeenRepository(database.dataSource);
      queue = new CommandQueueRepository(database.dataSource, lastSeen);
      await queue.enqueue({
        udid: 'udid-plans',
        enrollmentId: 'E-PLANS-1',
        placement: 'back',
        commands: [
          { commandUuid: 'C-1', requestType: 'InstallProfile', body: 'PGRpY3QvPg==' },
          { commandUuid: 'C-2', requestType: 'DeviceConfigured', body: 'PGRpY3QvPg==' },
        ],
      });
    });

    // The operation, and the index its main question must use (when it is not a primary key).
    const operations: PlannedOperation[] = [
      [
        'a device asks for its next command',
        () => queue.report({ udid: 'udid-plans', enrollmentId: 'E-PLANS-1', status: 'Idle' }),
        'commands_enrollment_state',
      ],
      [
        'a device answers a command',
        () =>
          queue.report({
            udid: 'udid-plans',
            enrollmentId: 'E-PLANS-1',
            status: 'Acknowledged',
            commandUuid: 'C-1',
          }),
      ],
      [
        'commands are queued',
        () =>
          queue.enqueue({
            udid: 'udid-plans',
            enrollmentId: 'E-PLANS-1',
            placement: 'front',
            commands: [
              { commandUuid: 'C-3', requestType: 'InstallApplication', body: 'PGRpY3QvPg==' },
            ],
          }),
      ],
      [
        'a fresh enrollment supersedes the earlier one',
        () =>
          queue.recordEnrollment({
            fingerprint: 'F-PLANS',
            udid: 'udid-plans',
            enrollmentId: 'E-PLANS-2',
            userEnrollment: false,
            fresh: true,
            previousEnrollmentId: 'E-PLANS-1',
          }),
      ],
      [
        'a device with nothing pending says Idle',
        () => queue.lookUpIdle('F-PLANS'),
        'commands_enrollment_state',
      ],
      ['the device checks out', () => queue.checkOut('udid-plans', 'E-PLANS-2')],
      ['metrics count the pending commands', () => queue.countPending()],
      [
        'last seen times are written',
        async () => {
          lastSeen.note('E-PLANS-1', new Date());
          await lastSeen.flush();
        },
      ],
      [
        'retention deletes finished commands',
        () => new CommandRetentionRepository(database.dataSource).deleteFinished(new Date(), 500),
        'commands_state_updated_at',
      ],
    ];

    itReadsThroughIndexes(database, operations);
  });
});
