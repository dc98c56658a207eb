import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';

import type { CycleState } from '@turnaround/contracts';
import { recordCycleTransition, registerActiveCycles } from '@turnaround/platform';

import { ProvisioningRepository, RtsCycle } from '../data-access/provisioning.repository.js';

/**
 * The RTS cycle metrics: transitions as they are recorded, the time spent in each phase, and (at
 * scrape time, while the module runs) the unfinished cycles by state.
 */
@Injectable()
export class CycleMetrics implements OnModuleInit, OnModuleDestroy {
  private unregister?: () => void;

  constructor(private readonly repository: ProvisioningRepository) {}

  onModuleInit(): void {
    this.unregister = registerActiveCycles(() => this.repository.countUnfinishedCycles());
  }

  onModuleDestroy(): void {
    this.unregister?.();
  }

  /** One recorded transition: `before` is the cycle as it was in the state it left. */
  transitioned(before: RtsCycle, after: RtsCycle, at: Date): void {
    const left = phaseLeft(before, after.state);
    const entered = left ? enteredAt(before, left) : null;
    recordCycleTransition({
      to: after.state,
      trigger: after.trigger,
      preserveApps: after.preserveApps,
      ...(left && entered
        ? { left: { phase: left, seconds: (at.getTime() - entered.getTime()) / 1000 } }
        : {}),
    });
  }
}

/**
 * The phase a transition ends, if it ends one. A stall is part of the phase it happened in: going
 * into `stalled` ends nothing, and leaving it ends that phase, so a late device's slow erase is
 * timed once and in full.
 */
function phaseLeft(before: RtsCycle, to: CycleState): CycleState | null {
  if (to === 'stalled') {
    return null;
  }

  return before.state === 'stalled' ? before.stalledIn : before.state;
}

function enteredAt(cycle: RtsCycle, phase: CycleState): Date | null {
  switch (phase) {
    case 'requested':
      return cycle.requestedAt;
    case 'erase-queued':
      return cycle.eraseQueuedAt;
    case 'erase-acknowledged':
      return cycle.eraseAcknowledgedAt;
    case 'provisioning':
      return cycle.provisioningAt;
    case 'configured':
      return cycle.configuredAt;
    case 'snapshotting':
      return cycle.snapshotStartedAt;
    // No entry time is kept for these: a blocked cycle waits for an operator, not for the device.
    case 'blocked':
    case 'stalled':
    case 'returned-to-service':
    case 'failed':
      return null;
  }
}
