import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

import { createLogger, runWithNewLogContext } from '@turnaround/platform';

import { ProvisioningRepository } from '../data-access/provisioning.repository.js';
import { CycleService } from './cycle.service.js';
import { PROVISIONING_SETTINGS, type ProvisioningSettings } from './provisioning.settings.js';
import { clearTimeoutMs, ReturnToServiceService } from './return-to-service.service.js';

const TICK_MS = 1_000;
/**
 * A started cycle this long without its erase (or its lock check) was left by a process that
 * stopped. Never shorter than a clear of Activation Lock may take, plus a margin: a start still
 * waiting for escrow's answer in another replica is not interrupted.
 */
const INTERRUPTED_START_MS = 30_000;
const CLEAR_MARGIN_MS = 10_000;

/**
 * Watches the clock for cycles: a missed phase deadline stalls the cycle with its reason, a passed
 * release timeout sends DeviceConfigured ahead of whatever the plan still has queued, and a start
 * interrupted before its erase (the process was killed, or what follows the lock check's answer
 * failed) is taken up again.
 *
 * Every replica of the service ticks. That is safe because each action is a compare-and-set on the
 * cycle's stored state (a second replica's transition finds the state moved on and does nothing),
 * and the commands service ignores a command it already has; at worst a forced release is noted
 * twice in the cycle's history.
 */
@Injectable()
export class CycleTimerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = createLogger('CycleTimerService');
  private timer?: NodeJS.Timeout;
  private running = false;
  private readonly interruptedAfterMs: number;

  constructor(
    private readonly cycles: CycleService,
    private readonly repository: ProvisioningRepository,
    private readonly returnToService: ReturnToServiceService,
    @Inject(PROVISIONING_SETTINGS) settings: ProvisioningSettings,
  ) {
    this.interruptedAfterMs = Math.max(INTERRUPTED_START_MS, clearTimeoutMs(settings) + CLEAR_MARGIN_MS);
  }

  onApplicationBootstrap(): void {
    // Each pass is a task of its own: its lines share an id, apart from the other passes'.
    this.timer = setInterval(() => void runWithNewLogContext('cycle-timer', () => this.tick()), TICK_MS);
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
      // A start taken up in this pass, here or by another replica's timer, has just made progress:
      // its new deadline is not yet due.
      const resumed = new Set<string>();
      for (const cycle of await this.repository.interruptedStarts(new Date(now.getTime() - this.interruptedAfterMs))) {
        resumed.add(cycle.id);
        if (!(await this.repository.claimInterruptedStart(cycle, now))) {
          // Another replica's timer took it up first, or the start moved on since it was read.
          continue;
        }
        this.logger.warn({ udid: cycle.udid, cycleId: cycle.id }, 'cycle start was interrupted before its erase; resuming');
        await this.returnToService.resumeStart(cycle);
      }
      for (const cycle of (await this.repository.overdueCycles(now)).filter((due) => !resumed.has(due.id))) {
        await this.cycles.apply(cycle, { type: 'deadline-passed', reason: `no progress in ${cycle.state} before ${cycle.deadlineAt?.toISOString()}` });
      }
    } catch (error) {
      this.logger.error({ err: error }, 'cycle timer pass failed');
    } finally {
      this.running = false;
    }
  }
}
