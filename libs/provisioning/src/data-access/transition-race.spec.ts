import 'reflect-metadata';

import { randomUUID } from 'node:crypto';

import pg from 'pg';
import { DataSource } from 'typeorm';

import { MESSAGING_ENTITIES } from '@turnaround/platform';

import { PROVISIONING_ENTITIES } from './provisioning.entities.js';
import { ProvisioningRepository, RtsCycle } from './provisioning.repository.js';

/**
 * recordTransition is a compare-and-set: on PostgreSQL two writers holding the same copy (two
 * replicas' timers, the timer and an event handler) must not both store a transition from the
 * same state.
 */
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = `turnaround_cas_test_${process.pid}`;
const URL = `postgres://postgres@127.0.0.1:5432/${DATABASE}`;

describe('cycle transition compare-and-set on PostgreSQL', () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  let dataSource: DataSource;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    const setup = new pg.Client({ connectionString: URL });
    await setup.connect();
    await setup.query('CREATE SCHEMA provisioning');
    await setup.end();
    dataSource = await new DataSource({ type: 'postgres', url: URL, schema: 'provisioning', entities: [...PROVISIONING_ENTITIES, ...MESSAGING_ENTITIES], synchronize: true }).initialize();
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.end();
  });

  async function startedCycle(repository: ProvisioningRepository, now: Date): Promise<RtsCycle> {
    const udid = `UDID-${randomUUID()}`;
    await repository.saveDevice({
      udid, enrollmentId: 'E1', enrollmentStatus: 'enrolled', serialNumber: null, productName: null, osVersion: null, platform: 'ios',
      userEnrollment: false, awaitingConfiguration: false, enrolledViaAde: null, supervised: false, activationLockEnabled: false,
      currentCycleId: null, releaseCommandUuid: null, rtsConfigurationId: null, inServiceSince: null, enrolledAt: now, updatedAt: now,
    });
    const cycle: RtsCycle = {
      id: randomUUID(), udid, configurationId: 'c', configurationName: 'c', trigger: 'service', state: 'requested', stalledIn: null, reason: null,
      enrollmentId: 'E1', newEnrollmentId: null, eraseCommandUuid: randomUUID(), releaseCommandUuid: null, planSteps: '{}', mdmProfileBecause: null,
      preserveApps: false, preservationDeclined: null, snapshotCommandUuid: null, lockCheckCommandUuid: null, lockCheckedAt: null, releaseHeld: false, snapshotNotNows: 0,
      snapshotApps: null, snapshotStartedAt: null, requestedAt: now, eraseQueuedAt: null, eraseAcknowledgedAt: null, provisioningAt: null,
      configuredAt: null, returnedAt: null, endedAt: null, deadlineAt: now, releaseDueAt: null, updatedAt: now,
    };
    await repository.startCycle(cycle);

    return cycle;
  }

  it('lets only one of two writers move a cycle out of the state they both read', async () => {
    const repository = new ProvisioningRepository(dataSource);
    const cycle = await startedCycle(repository, new Date());

    // Writer A (the erase being queued) holds its unit open a moment, as any unit that goes on
    // to stage its events does; writer B (a timer pass with the same copy) comes in meanwhile.
    let finishA!: () => void;
    const holdA = new Promise<void>((resolve) => (finishA = resolve));
    let aRecorded!: (value: boolean) => void;
    const aDone = new Promise<boolean>((resolve) => (aRecorded = resolve));
    const a = repository.unitOfWork(async () => {
      aRecorded(await repository.recordTransition({ ...cycle, state: 'erase-queued' }, 'requested', undefined, new Date()));
      await holdA;
    });
    const recordedA = await aDone;
    const b = repository.recordTransition({ ...cycle, state: 'failed', stalledIn: null }, 'requested', 'start failed', new Date());
    // Let A commit once B waits for A's row lock (B already read 'requested').
    for (let tries = 0; tries < 500; tries += 1) {
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [DATABASE]);
      if (rows[0].n > 0) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    finishA();
    await a;
    const recordedB = await b;

    const history = await repository.transitionsOf([cycle.id]);
    expect({ recordedA, recordedB, fromRequested: history.filter((row) => row.fromState === 'requested').length }).toEqual({
      recordedA: true,
      recordedB: false,
      fromRequested: 1,
    });
  });

  it('lets only one of two replicas take up the same interrupted start', async () => {
    const repository = new ProvisioningRepository(dataSource);
    const startedAt = new Date(Date.now() - 60_000);
    const cycle = await startedCycle(repository, startedAt);
    const quietSince = new Date(Date.now() - 30_000);
    // Both replicas' timers read the same quiet start, then both try to take it.
    const [seenByA, seenByB] = await Promise.all([repository.interruptedStarts(quietSince), repository.interruptedStarts(quietSince)]);
    const copyA = seenByA.find((found) => found.id === cycle.id);
    const copyB = seenByB.find((found) => found.id === cycle.id);
    expect(copyA && copyB).toBeTruthy();

    const now = new Date();
    const claims = await Promise.all([repository.claimInterruptedStart(copyA!, now), repository.claimInterruptedStart(copyB!, now)]);

    expect(claims.filter(Boolean)).toHaveLength(1);
    // Taken up, it looks busy for another quiet time.
    expect((await repository.interruptedStarts(quietSince)).map((found) => found.id)).not.toContain(cycle.id);
  });
});
