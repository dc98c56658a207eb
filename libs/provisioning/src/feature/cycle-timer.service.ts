import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

import { createLogger } from '@turnaround/platform';

import { ProvisioningRepository } from '../data-access/provisioning.repository.js';
import { CycleService } from './cycle.service.js';

const TICK_MS = 1_000;

/**
 * Watches the clock for cycles: a missed phase deadline stalls the cycle with its reason, and a
 * passed release timeout sends DeviceConfigured ahead of whatever the plan still has queued.
 * TODO(#4): with several provisioning replicas each would tick; elect one or lock per cycle.
 */
@Injectable()
export class CycleTimerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = createLogger('CycleTimerService');
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly cycles: CycleService,
    private readonly repository: ProvisioningRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass over due cycles; never throws (a failed pass is logged and retried next tick). */
  async tick(now = new Date()): Promise<void> {
    if (this.running) {
      return;
    }
    this.running = true;
    try {
      for (const cycle of await this.repository.releaseDue(now)) {
        await this.cycles.forceRelease(cycle);
      }
      for (const cycle of await this.repository.overdueCycles(now)) {
        await this.cycles.apply(cycle, { type: 'deadline-passed', reason: `no progress in ${cycle.state} before ${cycle.deadlineAt?.toISOString()}` });
      }
    } catch (error) {
      this.logger.error({ err: error }, 'cycle timer pass failed');
    } finally {
      this.running = false;
    }
  }
}
