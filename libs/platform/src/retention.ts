import { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';

import { ServiceName } from '@turnaround/contracts';

import { runWithNewLogContext } from './log-context.js';
import { createLogger } from './logger.js';

/** One kind of row a service deletes once it is old enough. */
export interface RetentionRule {
  /** What the rows are, as the pass's log line names them (`commands`, `inboxMessages`). */
  readonly name: string;
  /** How many days a row is kept. */
  readonly days: number;
  /** Deletes at most `limit` rows older than `before`, in one transaction; returns how many. */
  deleteBatch(before: Date, limit: number): Promise<number>;
}

/** How many rows one delete removes: a short transaction, so device requests are not held up. */
export const RETENTION_BATCH = 500;
// One pass removes at most this many batches of each rule; the rest waits for the next pass, so a
// backlog (a first run after months) spreads over hours instead of one long burst.
const MAX_BATCHES_PER_PASS = 200;
const FIRST_PASS_AFTER_MS = 60_000;
const PASS_EVERY_MS = 60 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

/**
 * Runs a service's retention rules with the application: a first pass a minute after start, then
 * one an hour, until shutdown. Each pass has a log context of its own and deletes in bounded
 * batches. With several replicas each runs its own passes; deleting what another replica already
 * deleted changes nothing. A service's retention service extends this with its rules.
 */
export class RetentionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = createLogger('Retention');
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly service: ServiceName,
    private readonly rules: readonly RetentionRule[],
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(FIRST_PASS_AFTER_MS);
  }

  /** No pass starts any more; resolves once the one under way (if any) has ended. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * One pass as of `now`: deletes, rule by rule, the rows older than the rule's days. Returns
   * how many rows of each rule went. Never throws: a failed rule is logged and tried next pass.
   */
  async purge(now: Date): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    for (const rule of this.rules) {
      deleted[rule.name] = await this.apply(rule, new Date(now.getTime() - rule.days * DAY_MS));
    }
    if (Object.values(deleted).some((count) => count > 0)) {
      this.logger.info({ service: this.service, deleted }, 'old rows deleted');
    }

    return deleted;
  }

  private async apply(rule: RetentionRule, before: Date): Promise<number> {
    let total = 0;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.stopped; batch += 1) {
        const count = await rule.deleteBatch(before, RETENTION_BATCH);
        total += count;
        if (count < RETENTION_BATCH) {
          break;
        }
      }
    } catch (error) {
      this.logger.error(
        { service: this.service, rows: rule.name, err: error },
        'retention pass failed',
      );
    }

    return total;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) {
      return;
    }
    this.timer = setTimeout(() => {
      this.running = runWithNewLogContext('retention', () => this.purge(new Date())).finally(() => {
        this.running = undefined;
        this.schedule(PASS_EVERY_MS);
      });
    }, delayMs);
    this.timer.unref();
  }
}
