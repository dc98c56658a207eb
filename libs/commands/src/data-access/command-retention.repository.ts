import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, LessThan } from 'typeorm';

import { DataGate } from '@turnaround/platform';

import type { CommandState } from '../domain/queue-rules.js';
import { CommandEntity } from './commands.entities.js';

// Every state, so that a new one must be placed on one side or the other.
const FINISHED: Record<CommandState, boolean> = {
  queued: false,
  delivered: false,
  'not-now': false,
  acknowledged: true,
  error: true,
  'format-error': true,
  superseded: true,
  refused: true,
};

/** The states in which nothing will happen to a command any more. */
export const FINISHED_STATES = (Object.keys(FINISHED) as CommandState[]).filter(
  (state) => FINISHED[state],
);

/** Removes finished commands once they are old; the queue itself never reads them again. */
@Injectable()
export class CommandRetentionRepository {
  private readonly gate: DataGate;

  constructor(@InjectDataSource('commands') dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  /**
   * Deletes up to `limit` commands that finished before `before`. A finished command is not
   * changed again, so its last update is when it finished; its result is only its state.
   */
  async deleteFinished(before: Date, limit: number): Promise<number> {
    return this.gate.transaction(async (manager) => {
      const rows = await manager.find(CommandEntity, {
        select: { enrollmentId: true, commandUuid: true },
        where: { state: In(FINISHED_STATES), updatedAt: LessThan(before) },
        take: limit,
      });
      if (rows.length === 0) {
        return 0;
      }
      await manager.delete(
        CommandEntity,
        rows.map(({ enrollmentId, commandUuid }) => ({ enrollmentId, commandUuid })),
      );

      return rows.length;
    });
  }
}
