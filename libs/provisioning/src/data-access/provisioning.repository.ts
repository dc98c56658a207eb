import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataGate } from '@turnaround/platform';
import { DataSource, In, IsNull, LessThan, Not } from 'typeorm';

import type { CycleState } from '@turnaround/contracts';

import {
  ManagedDeviceEntity,
  RtsConfigurationEntity,
  RtsCycleEntity,
  RtsCycleTransitionEntity,
} from './provisioning.entities.js';
import type { ManagedDevice, RtsConfiguration, RtsCycle, RtsCycleTransition } from './provisioning.records.js';

/** A plain copy of a row: entities stay in here. */
function plain<T extends object>(row: T): T {
  return { ...row };
}

export type { ManagedDevice, RtsConfiguration, RtsCycle, RtsCycleTransition } from './provisioning.records.js';

const ACTIVE_STATES: CycleState[] = ['requested', 'erase-queued', 'erase-acknowledged', 'provisioning', 'configured', 'snapshotting', 'stalled'];
/** States that keep a cycle open but let a new request replace it. */
const REPLACEABLE_STATES: CycleState[] = ['stalled', 'blocked'];

export class ActiveCycleExistsError extends Error {
  readonly code = 'CYCLE.ALREADY_ACTIVE';
}

/** Every table of the provisioning service, behind one class. */
@Injectable()
export class ProvisioningRepository {
  private readonly gate: DataGate;

  constructor(@InjectDataSource('provisioning') dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  /** Runs `work` as one transaction: every repository call and staged event inside it commit together. */
  unitOfWork<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.transaction(() => work());
  }

  /** Whether the caller runs inside a unit of work. */
  get inUnitOfWork(): boolean {
    return this.gate.inTransaction;
  }

  /** Runs `hook` once the current unit of work committed (at once outside one; never on rollback). */
  afterCommit(hook: () => void): void {
    this.gate.afterCommit(hook);
  }

  async saveConfiguration(configuration: RtsConfiguration): Promise<void> {
    await this.gate.run(() => this.gate.repository(RtsConfigurationEntity).save(configuration));
  }

  async findConfiguration(nameOrId: string): Promise<RtsConfiguration | null> {
    const row =
      (await this.gate.findOneBy(RtsConfigurationEntity, { name: nameOrId })) ??
      (await this.gate.findOneBy(RtsConfigurationEntity, { id: nameOrId }));

    return row ? plain(row) : null;
  }

  async listConfigurations(): Promise<RtsConfiguration[]> {
    return (await this.gate.run(() => this.gate.repository(RtsConfigurationEntity).find({ order: { name: 'ASC' } }))).map(plain);
  }

  async findDevice(udid: string): Promise<ManagedDevice | null> {
    const row = await this.gate.findOneBy(ManagedDeviceEntity, { udid });

    return row ? plain(row) : null;
  }

  /**
   * Saves what the device told us. The current cycle, the release, the assignment and the
   * in-service time are left out: they are written only by targeted updates (and the cycle
   * transactions), so a handler holding an older copy of the device cannot undo them.
   */
  async saveDevice(device: ManagedDevice): Promise<void> {
    const { rtsConfigurationId: _assignment, inServiceSince: _since, currentCycleId: _cycle, releaseCommandUuid: _release, ...facts } = device;
    // Updated in place, inserted only when new: save() would read the row back first.
    await this.gate.run(async () => {
      const { udid, ...fields } = facts;
      const updated = await this.gate.updateBy(ManagedDeviceEntity, { udid }, fields);
      if (!updated) {
        await this.gate.repository(ManagedDeviceEntity).insert(facts);
      }
    });
  }

  /** Changes some fields of a device without writing back a possibly older copy of the rest. */
  async updateDevice(udid: string, fields: Partial<Pick<ManagedDevice, 'rtsConfigurationId' | 'inServiceSince' | 'releaseCommandUuid'>>): Promise<boolean> {
    const affected = await this.gate.updateBy(ManagedDeviceEntity, { udid }, { ...fields, updatedAt: new Date() });

    return affected > 0;
  }

  async listDevices(): Promise<ManagedDevice[]> {
    return (await this.gate.run(() => this.gate.repository(ManagedDeviceEntity).find({ order: { udid: 'ASC' } }))).map(plain);
  }

  async findCycle(id: string): Promise<RtsCycle | null> {
    const row = await this.gate.findOneBy(RtsCycleEntity, { id });

    return row ? plain(row) : null;
  }

  async findCycles(ids: string[]): Promise<RtsCycle[]> {
    return ids.length === 0 ? [] : (await this.gate.run(() => this.gate.repository(RtsCycleEntity).findBy({ id: In(ids) }))).map(plain);
  }

  async cyclesOf(udid: string): Promise<RtsCycle[]> {
    return (await this.gate.run(() => this.gate.repository(RtsCycleEntity).find({ where: { udid }, order: { requestedAt: 'DESC' } }))).map(plain);
  }

  async transitionsOf(cycleIds: string[]): Promise<RtsCycleTransition[]> {
    if (cycleIds.length === 0) {
      return [];
    }

    return this.gate.run(() => this.gate.repository(RtsCycleTransitionEntity).find({
      where: { cycleId: In(cycleIds) },
      order: { id: 'ASC' },
    }));
  }

  /**
   * Creates a cycle and makes it the device's current one, unless one is already running. A
   * stalled cycle does not block a new request: it fails, with the reason, and the new one starts.
   */
  async startCycle(cycle: RtsCycle): Promise<void> {
    await this.gate.transaction(async (manager) => {
      // Two requests for one device at once on PostgreSQL: the second waits here and then sees
      // the first one's cycle.
      const lock = manager.connection.options.type === 'postgres' ? { lock: { mode: 'pessimistic_write' as const } } : {};
      const device = await manager.findOneOrFail(ManagedDeviceEntity, { where: { udid: cycle.udid }, ...lock });
      if (device.currentCycleId) {
        const current = await manager.findOneBy(RtsCycleEntity, { id: device.currentCycleId });
        if (current && REPLACEABLE_STATES.includes(current.state)) {
          const reason = `replaced by Return to Service request ${cycle.id} while ${current.state}`;
          await manager.update(RtsCycleEntity, { id: current.id }, { state: 'failed', reason, endedAt: cycle.requestedAt, deadlineAt: null, releaseDueAt: null, updatedAt: cycle.requestedAt });
          await manager.insert(RtsCycleTransitionEntity, { cycleId: current.id, fromState: current.state, toState: 'failed', reason, at: cycle.requestedAt });
        } else if (current && ACTIVE_STATES.includes(current.state)) {
          throw new ActiveCycleExistsError(`cycle ${current.id} is still ${current.state}`);
        }
      }
      await manager.insert(RtsCycleEntity, cycle);
      await manager.insert(RtsCycleTransitionEntity, {
        cycleId: cycle.id,
        fromState: null,
        toState: cycle.state,
        reason: cycle.reason,
        at: cycle.requestedAt,
      });
      device.currentCycleId = cycle.id;
      device.updatedAt = new Date();
      await manager.save(ManagedDeviceEntity, device);
    });
  }

  /**
   * Saves a cycle's new state with its history row, if the stored cycle is still in `from`: a
   * writer holding an older copy (the timer, a late event) must not undo a newer transition.
   * A finished cycle frees the device. Returns whether the transition was stored.
   */
  async recordTransition(cycle: RtsCycle, from: CycleState, reason: string | undefined, at: Date): Promise<boolean> {
    return this.gate.transaction(async (manager) => {
      // Locked on PostgreSQL: two writers holding the same copy (two replicas' timers, the timer
      // and a handler) must not both move the cycle out of `from`. SQLite runs one at a time.
      const stored = await this.gate.findOneBy(RtsCycleEntity, { id: cycle.id }, { lock: true });
      if (!stored || stored.state !== from) {
        return false;
      }
      cycle.updatedAt = at;
      // The whole copy is written: it is the one that passed the check above, under the lock.
      const { id, ...fields } = cycle;
      await this.gate.updateBy(RtsCycleEntity, { id }, fields);
      await manager.insert(RtsCycleTransitionEntity, {
        cycleId: cycle.id,
        fromState: from,
        toState: cycle.state,
        reason: reason ?? null,
        at,
      });
      if (cycle.state === 'returned-to-service' || cycle.state === 'failed') {
        await manager.update(
          ManagedDeviceEntity,
          { udid: cycle.udid, currentCycleId: cycle.id },
          { currentCycleId: null, updatedAt: at },
        );
      }

      return true;
    });
  }

  /**
   * Takes an interrupted start for this replica: true when the stored cycle is still the copy read
   * (same state, same `updatedAt`), which moves its `updatedAt` to `at`. Every replica's timer
   * finds the same quiet start; only the one whose claim lands resumes it, and the start looks busy
   * to the others for another quiet time.
   */
  async claimInterruptedStart(cycle: RtsCycle, at: Date): Promise<boolean> {
    const claimed = await this.gate.write(
      `UPDATE ${this.gate.table(RtsCycleEntity)} SET "updatedAt" = $1 WHERE "id" = $2 AND "state" = $3 AND "updatedAt" = $4`,
      [at, cycle.id, cycle.state, cycle.updatedAt],
    );
    if (claimed.affected === 1) {
      cycle.updatedAt = at;
    }

    return claimed.affected === 1;
  }

  /** Changes some fields of a cycle without touching the rest (its state above all). */
  async updateCycle(
    id: string,
    fields: Partial<Pick<RtsCycle, 'planSteps' | 'reason' | 'releaseDueAt' | 'preserveApps' | 'preservationDeclined' | 'snapshotNotNows' | 'releaseHeld' | 'lockCheckCommandUuid' | 'lockCheckedAt' | 'deadlineAt' | 'snapshotCommandUuid'>>,
  ): Promise<void> {
    await this.gate.updateBy(RtsCycleEntity, { id }, { ...fields, updatedAt: new Date() });
  }

  /**
   * Gives a cycle the lock check about to be queued, unless it has one already: two replicas'
   * timers taking up the same interrupted start must not both queue a check. Returns whether this
   * caller's check is the cycle's.
   */
  async claimLockCheck(id: string, commandUuid: string, deadlineAt: Date): Promise<boolean> {
    const result = await this.gate.run(() =>
      this.gate
        .repository(RtsCycleEntity)
        .update({ id, lockCheckCommandUuid: IsNull() }, { lockCheckCommandUuid: commandUuid, deadlineAt, updatedAt: new Date() }),
    );

    return (result.affected ?? 0) > 0;
  }

  /** A note in a cycle's history that is not a change of state (a forced release). */
  async noteOnCycle(cycleId: string, state: CycleState, reason: string, at: Date): Promise<void> {
    await this.gate.run(() => this.gate.repository(RtsCycleTransitionEntity).insert({ cycleId, fromState: state, toState: state, reason, at }));
  }

  /** Cycles not yet ended, by state (metrics, at scrape time): one grouped count over the state index. */
  async countUnfinishedCycles(): Promise<Record<string, number>> {
    const unfinished = [...ACTIVE_STATES, 'blocked'];
    const rows = await this.gate.run(() =>
      this.gate
        .repository(RtsCycleEntity)
        .createQueryBuilder('cycle')
        .select('cycle.state', 'state')
        .addSelect('COUNT(*)', 'count')
        .where('cycle.state IN (:...states)', { states: unfinished })
        .groupBy('cycle.state')
        .getRawMany<{ state: string; count: string | number }>(),
    );
    const counts: Record<string, number> = Object.fromEntries(unfinished.map((state) => [state, 0]));
    for (const row of rows) {
      counts[row.state] = Number(row.count);
    }

    return counts;
  }

  /** Unfinished cycles whose phase deadline has passed. */
  async overdueCycles(now: Date): Promise<RtsCycle[]> {
    return this.gate.run(() => this.gate.repository(RtsCycleEntity).find({
      where: { state: In(ACTIVE_STATES.filter((state) => state !== 'stalled')), deadlineAt: LessThan(now) },
      take: 500,
    }));
  }

  /** Cycles still provisioning whose release timeout has passed. */
  async releaseDue(now: Date): Promise<RtsCycle[]> {
    return this.gate.run(() => this.gate.repository(RtsCycleEntity).find({
      where: { state: In(['provisioning', 'stalled']), releaseDueAt: LessThan(now), releaseCommandUuid: Not(IsNull()) },
      take: 500,
    }));
  }

  /**
   * Cycles the service started and did not get as far as the erase, quiet since `quietSince`: the
   * process stopped between storing the cycle and queueing its first command (no lock check), or
   * after the lock check's answer was stored and before Activation Lock was cleared and the erase
   * queued (lockCheckedAt set, still requested).
   */
  async interruptedStarts(quietSince: Date): Promise<RtsCycle[]> {
    const quiet = { trigger: 'service' as const, eraseCommandUuid: Not(IsNull()), updatedAt: LessThan(quietSince) };

    return this.gate.run(() => this.gate.repository(RtsCycleEntity).find({
      // Each branch names its state, so each reads through the state index.
      where: [
        { state: 'requested', lockCheckCommandUuid: IsNull(), ...quiet },
        { state: 'requested', lockCheckedAt: Not(IsNull()), ...quiet },
        { state: 'stalled', stalledIn: 'requested', lockCheckCommandUuid: IsNull(), ...quiet },
        { state: 'stalled', stalledIn: 'requested', lockCheckedAt: Not(IsNull()), ...quiet },
      ],
      take: 100,
    }));
  }
}
