import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';

import { createLogger, DataGate, runWithNewLogContext } from '@turnaround/platform';

import { EnrollmentQueueEntity } from './commands.entities.js';

const FLUSH_EVERY_MS = 1_000;
// Enrollments per UPDATE: two parameters each, far below either database's parameter limit.
const FLUSH_BATCH = 500;

/**
 * When each enrollment's device last reached the command URL. A device request only notes the
 * time in memory; the latest time per enrollment is written once a second (and at shutdown),
 * one UPDATE per batch of enrollments, instead of one write per request.
 */
@Injectable()
export class LastSeenRepository implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = createLogger('LastSeenRepository');
  private readonly gate: DataGate;
  private pending = new Map<string, Date>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<number> = Promise.resolve(0);

  constructor(@InjectDataSource('commands') private readonly dataSource: DataSource) {
    this.gate = DataGate.of(dataSource);
  }

  note(enrollmentId: string, at: Date): void {
    const noted = this.pending.get(enrollmentId);
    if (!noted || noted < at) {
      this.pending.set(enrollmentId, at);
    }
  }

  /**
   * Writes every time noted since the last flush; returns how many enrollments it wrote. Flushes
   * run one after the other. Times a failed flush could not write are kept for the next one.
   */
  flush(): Promise<number> {
    // A failed flush was logged by its caller and its times put back; the next one goes ahead.
    this.flushing = this.flushing.catch(() => 0).then(() => this.write());

    return this.flushing;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () =>
        void runWithNewLogContext('last-seen', () =>
          this.flush().catch((error: unknown) =>
            this.logger.error({ err: error }, 'last seen times not written'),
          ),
        ),
      FLUSH_EVERY_MS,
    );
    this.timer.unref();
  }

  // Before the data source closes (that happens at application shutdown).
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<number> {
    const batch = this.pending;
    if (batch.size === 0) {
      return 0;
    }
    this.pending = new Map();
    const entries = [...batch];
    try {
      await this.gate.transaction(async (manager) => {
        for (let start = 0; start < entries.length; start += FLUSH_BATCH) {
          await this.update(manager, entries.slice(start, start + FLUSH_BATCH));
        }
      });
    } catch (error) {
      for (const [enrollmentId, at] of entries) {
        this.note(enrollmentId, at);
      }
      throw error;
    }

    return entries.length;
  }

  /** One statement: each enrollment of the batch gets its own time. */
  private async update(manager: EntityManager, entries: [string, Date][]): Promise<void> {
    // PostgreSQL cannot tell the type of a bare parameter in a CASE; SQLite would turn a cast
    // to timestamp into a number.
    const time = (name: string) =>
      this.dataSource.options.type === 'postgres' ? `CAST(:${name} AS timestamp)` : `:${name}`;
    const parameters: Record<string, unknown> = {};
    const cases = entries.map(([enrollmentId, at], index) => {
      parameters[`enrollment${index}`] = enrollmentId;
      parameters[`seen${index}`] = at;

      return `WHEN :enrollment${index} THEN ${time(`seen${index}`)}`;
    });
    await manager
      .createQueryBuilder()
      .update(EnrollmentQueueEntity)
      .set({ lastSeenAt: () => `CASE "enrollmentId" ${cases.join(' ')} END` })
      .where({ enrollmentId: In(entries.map(([enrollmentId]) => enrollmentId)) })
      .setParameters(parameters)
      .execute();
  }
}
