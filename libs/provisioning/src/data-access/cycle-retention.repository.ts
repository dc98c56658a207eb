import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, LessThan } from 'typeorm';

import { DataGate } from '@turnaround/platform';

import { RtsCycleEntity, RtsCycleTransitionEntity } from './provisioning.entities.js';

/** Removes finished RTS cycles, with their history, once they are old. */
@Injectable()
export class CycleRetentionRepository {
  private readonly gate: DataGate;

  constructor(@InjectDataSource('provisioning') dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  /**
   * Deletes up to `limit` cycles that ended (returned to service, or failed) before `before`,
   * oldest first, and their transitions. A cycle still running has no end and is never touched.
   */
  async deleteEnded(before: Date, limit: number): Promise<number> {
    return this.gate.transaction(async (manager) => {
      const cycles = await manager.find(RtsCycleEntity, {
        select: { id: true },
        where: { endedAt: LessThan(before) },
        order: { endedAt: 'ASC' },
        take: limit,
      });
      const ids = cycles.map((cycle) => cycle.id);
      if (ids.length === 0) {
        return 0;
      }
      await manager.delete(RtsCycleTransitionEntity, { cycleId: In(ids) });
      await manager.delete(RtsCycleEntity, { id: In(ids) });

      return ids.length;
    });
  }
}
