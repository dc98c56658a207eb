import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { AppPreservationDeclined, CycleEvents, CycleState, EnqueueCommands, PrioritizeCommand, SnapshotReady } from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';
import { createLogger } from '@turnaround/platform';
import {
  buildDeviceConfigured,
  buildInstallApplication,
  buildManagedApplicationList,
  encodePlistXml,
  PlistDict,
} from '@turnaround/protocol';

import { ProvisioningPlan } from '../domain/plan.js';
import { planProfileReference, ProfileReference, profileReferenceKey } from '../domain/profile-reference.js';
import { CycleInput, isTerminal, nextState } from '../domain/rts-cycle.js';
import { ProvisioningRepository, RtsCycle } from '../data-access/provisioning.repository.js';
import { CycleMetrics } from './cycle-metrics.js';
import { PROVISIONING_SETTINGS } from './provisioning.settings.js';
import type { ProvisioningSettings } from './provisioning.settings.js';

export interface PlanStep {
  requestType: string;
  outcome: 'queued' | 'delivered' | 'acknowledged' | 'error' | 'not-now';
  /** What the device said when it refused the step (its error chain), for the operator (B03). */
  error?: string;
}

export interface QueuedCommand {
  commandUuid: string;
  requestType: string;
  command: PlistDict;
  /** An erase whose bootstrap token the commands service attaches at delivery (never stored). */
  attachBootstrapToken?: { reason: string };
  /** An erase whose Wi-Fi and enrollment profiles the commands service fetches at delivery. */
  attachReturnToServiceProfiles?: { cycleId: string };
  /** An InstallProfile without Payload: the commands service fetches the profile at delivery. */
  attachProfile?: { cycleId: string; profile: ProfileReference };
  /** Refused by the commands service once the enrollment's DeviceConfigured was acknowledged. */
  whileAwaitingConfiguration?: boolean;
}

/** One managed app as the device reported it after its snapshot. */
export interface SnapshotApp {
  identifier: string;
  version?: string;
  status?: string;
}

/** Builds a command with a fresh CommandUUID. */
export function queued(command: PlistDict): QueuedCommand {
  return { commandUuid: randomUUID().toUpperCase(), requestType: String(command.RequestType), command };
}

/** Moves cycles through their states, records each transition and publishes it as an event. */
@Injectable()
export class CycleService {
  private readonly logger = createLogger('CycleService');

  constructor(
    private readonly bus: MessageBus,
    private readonly metrics: CycleMetrics,
    private readonly repository: ProvisioningRepository,
    @Inject(PROVISIONING_SETTINGS) private readonly settings: ProvisioningSettings,
  ) {
    this.profileKey = profileReferenceKey(settings.apiKey);
  }

  /** Keys the digests that name profiles in queued InstallProfile commands. */
  readonly profileKey: Buffer;

  /**
   * Applies one input; returns false when it does not apply in the cycle's state, or when the
   * stored cycle moved on since this copy was read (the copy is then stale and left alone).
   */
  async apply(cycle: RtsCycle, input: CycleInput, causationId?: string): Promise<boolean> {
    const result = nextState(cycle.state, input, cycle.stalledIn ?? undefined);
    if (!result) {
      return false;
    }
    const at = new Date();
    const before = { ...cycle };
    cycle.state = result.to;
    if (result.reason) {
      cycle.reason = result.reason;
    } else if (result.from === 'stalled') {
      cycle.reason = null;
    }
    cycle.stalledIn = result.to === 'stalled' ? (cycle.stalledIn ?? result.from) : null;
    this.stamp(cycle, result.to, at);
    // The transition and its event commit together (transactional outbox).
    const recorded = await this.repository.unitOfWork(async () => {
      if (!(await this.repository.recordTransition(cycle, result.from, result.reason, at))) {
        return false;
      }
      await this.announce(cycle, result.from, result.reason, at, causationId);

      return true;
    });
    if (!recorded) {
      Object.assign(cycle, before);
      this.logger.info({ udid: cycle.udid, cycleId: cycle.id, input: input.type }, 'stale cycle copy; transition skipped');

      return false;
    }
    const after = { ...cycle };
    // Counted once the outermost unit commits: a rolled-back (and redelivered) transition is not.
    this.repository.afterCommit(() => this.metrics.transitioned(before, after, at));

    return true;
  }

  /** Announces a cycle that was just created in `requested`. */
  async announceRequested(cycle: RtsCycle): Promise<void> {
    await this.announce(cycle, undefined, undefined, cycle.requestedAt);
  }

  /** Queues commands for an enrollment; `front` puts them before anything already queued. */
  async enqueue(udid: string, enrollmentId: string, commands: QueuedCommand[], correlationId?: string, placement: 'back' | 'front' = 'back'): Promise<void> {
    if (commands.length === 0) {
      return;
    }
    await this.bus.publish(
      EnqueueCommands,
      {
        udid,
        enrollmentId,
        placement,
        commands: commands.map((entry) => ({
          commandUuid: entry.commandUuid,
          requestType: entry.requestType,
          command: encodePlistXml(entry.command).toString('base64'),
          ...(entry.attachBootstrapToken ? { attachBootstrapToken: entry.attachBootstrapToken } : {}),
          ...(entry.attachReturnToServiceProfiles ? { attachReturnToServiceProfiles: entry.attachReturnToServiceProfiles } : {}),
          ...(entry.attachProfile ? { attachProfile: entry.attachProfile } : {}),
          ...(entry.whileAwaitingConfiguration ? { whileAwaitingConfiguration: true } : {}),
        })),
      },
      { subject: udid, correlationId },
    );
  }

  /**
   * The device is back and waits in Setup Assistant: queue the plan, then DeviceConfigured last.
   * DeviceConfigured is queued right away behind the plan rather than after its results: a NotNow
   * or Error on a step must never hold the release back (B13), and the queue offers it as soon as
   * every step before it was answered in the session.
   *
   * With app preservation the plan's apps are the exception: an app the device installs after
   * DeviceConfigured is missing from the snapshot and is downloaded again in every later cycle.
   * So DeviceConfigured waits until each InstallApplication has a final answer (Acknowledged or
   * Error), never longer than the release timeout. Once DeviceConfigured is acknowledged an
   * inventory command follows: the device answers NotNow while it snapshots, so that command's
   * answer after the device's Idle is the observable end of the snapshot phase.
   */
  async provision(cycle: RtsCycle, enrollmentId: string, plan: ProvisioningPlan, extras: QueuedCommand[], causationId?: string): Promise<boolean> {
    const steps = [...planCommands(plan, cycle.id, this.profileKey), ...extras];
    cycle.newEnrollmentId = enrollmentId;
    cycle.releaseCommandUuid = randomUUID().toUpperCase();
    cycle.snapshotCommandUuid = cycle.preserveApps ? randomUUID().toUpperCase() : null;
    const release = releaseCommands(cycle);
    cycle.releaseHeld = cycle.preserveApps && steps.some((step) => step.requestType === 'InstallApplication');
    cycle.planSteps = JSON.stringify(
      Object.fromEntries(steps.map((step) => [step.commandUuid, { requestType: step.requestType, outcome: 'queued' } satisfies PlanStep])),
    );
    cycle.releaseDueAt = new Date(Date.now() + this.settings.releaseTimeoutSeconds * 1000);
    // The state change and the plan's commands go out together or not at all.
    const started = await this.repository.unitOfWork(async () => {
      if (!(await this.apply(cycle, { type: 'awaiting-configuration' }, causationId))) {
        return false;
      }
      await this.enqueue(cycle.udid, enrollmentId, cycle.releaseHeld ? steps : [...steps, ...release], cycle.id);

      return true;
    });
    if (!started) {
      return false;
    }
    this.logger.info(
      { udid: cycle.udid, cycleId: cycle.id, enrollmentId, steps: steps.length, releaseCommandUuid: cycle.releaseCommandUuid, preserveApps: cycle.preserveApps, releaseHeld: cycle.releaseHeld },
      'provisioning queued',
    );

    return true;
  }

  /**
   * The inventory was answered before DeviceConfigured was (DeviceConfigured got NotNow, and the
   * queue offered the inventory next): that answer says nothing about the snapshot, so a new
   * inventory goes behind the release.
   */
  async requeueInventory(cycle: RtsCycle): Promise<void> {
    const inventory = queued(buildManagedApplicationList());
    cycle.snapshotCommandUuid = inventory.commandUuid;
    await this.repository.unitOfWork(async () => {
      await this.repository.updateCycle(cycle.id, { snapshotCommandUuid: inventory.commandUuid });
      await this.enqueue(cycle.udid, cycle.newEnrollmentId ?? cycle.enrollmentId, [inventory], cycle.id);
    });
    this.logger.info({ udid: cycle.udid, cycleId: cycle.id, commandUuid: inventory.commandUuid }, 'inventory answered before the release; asked again');
  }

  /** Queues the held-back DeviceConfigured with the CommandUUID the cycle recorded. */
  private async releaseHeldBack(cycle: RtsCycle, placement: 'back' | 'front'): Promise<void> {
    cycle.releaseHeld = false;
    const release = releaseCommands(cycle);
    await this.repository.unitOfWork(async () => {
      await this.repository.updateCycle(cycle.id, { releaseHeld: false });
      await this.enqueue(cycle.udid, cycle.newEnrollmentId ?? cycle.enrollmentId, release, cycle.id, placement);
    });
    this.logger.info({ udid: cycle.udid, cycleId: cycle.id, releaseCommandUuid: cycle.releaseCommandUuid, placement }, 'release queued after the app installs');
  }

  /**
   * The device resumed after its snapshot and reported its managed apps: the cycle is done. An
   * inventory that came back as an Error still ends the phase (the device resumed), without apps.
   */
  async snapshotReady(cycle: RtsCycle, apps: SnapshotApp[] | null, causationId?: string): Promise<void> {
    if (cycle.state === 'configured') {
      await this.apply(cycle, { type: 'snapshot-started' }, causationId);
    }
    const at = new Date();
    const snapshotMs = cycle.snapshotStartedAt ? Math.max(0, at.getTime() - cycle.snapshotStartedAt.getTime()) : 0;
    cycle.snapshotApps = apps ? JSON.stringify(apps) : null;
    const reason = apps ? undefined : 'the device resumed, but its inventory after the snapshot came back as an error';
    const ended = await this.repository.unitOfWork(async () => {
      if (!(await this.apply(cycle, { type: 'snapshot-ready', ...(reason ? { reason } : {}) }, causationId))) {
        return false;
      }
      if (apps) {
        await this.bus.publish(
          SnapshotReady,
          { cycleId: cycle.id, udid: cycle.udid, apps, notNowAnswers: cycle.snapshotNotNows, snapshotMs, at: at.toISOString() },
          { subject: cycle.udid, correlationId: cycle.id, causationId },
        );
      }

      return true;
    });
    if (!ended) {
      return;
    }
    this.logger.info({ udid: cycle.udid, cycleId: cycle.id, apps: apps?.length, notNowAnswers: cycle.snapshotNotNows, snapshotMs }, 'snapshot ready');
  }

  /** A cycle that counted on the bootstrap token learned late that there is none. */
  async declinePreservation(cycle: RtsCycle, reason: string): Promise<void> {
    if (!cycle.preserveApps) {
      return;
    }
    cycle.preserveApps = false;
    cycle.preservationDeclined = reason;
    await this.repository.unitOfWork(async () => {
      await this.repository.updateCycle(cycle.id, { preserveApps: false, preservationDeclined: reason });
      await this.announceDeclined(cycle, reason);
    });
  }

  async announceDeclined(cycle: RtsCycle, reason: string): Promise<void> {
    this.logger.warn({ udid: cycle.udid, cycleId: cycle.id, reason }, 'app preservation declined; standard return to service');
    await this.bus.publish(
      AppPreservationDeclined,
      { cycleId: cycle.id, udid: cycle.udid, reason, at: new Date().toISOString() },
      { subject: cycle.udid, correlationId: cycle.id },
    );
  }

  /** Past the release timeout, DeviceConfigured jumps the queue; the cycle records why. */
  async forceRelease(cycle: RtsCycle): Promise<void> {
    const steps = JSON.parse(cycle.planSteps) as Record<string, PlanStep>;
    const unanswered = Object.values(steps).filter((step) => step.outcome === 'queued' || step.outcome === 'delivered' || step.outcome === 'not-now');
    const reason = `release timeout after ${this.settings.releaseTimeoutSeconds} s; unfinished steps: ${unanswered.map((step) => `${step.requestType} (${step.outcome})`).join(', ') || 'none'}`;
    const held = cycle.releaseHeld;
    await this.repository.unitOfWork(async () => {
      await this.repository.updateCycle(cycle.id, { reason, releaseDueAt: null });
      await this.repository.noteOnCycle(cycle.id, cycle.state, reason, new Date());
      if (held) {
        await this.releaseHeldBack(cycle, 'front');

        return;
      }
      await this.bus.publish(
        PrioritizeCommand,
        { udid: cycle.udid, enrollmentId: cycle.newEnrollmentId ?? cycle.enrollmentId, commandUuid: cycle.releaseCommandUuid! },
        { subject: cycle.udid, correlationId: cycle.id },
      );
    });
    if (!held) {
      this.logger.warn({ udid: cycle.udid, cycleId: cycle.id, reason }, 'release forced');
    }
  }

  /** Records what happened to a plan step; outcomes never block the cycle. */
  async recordStep(cycle: RtsCycle, commandUuid: string, outcome: PlanStep['outcome'], error?: string): Promise<void> {
    const steps = JSON.parse(cycle.planSteps) as Record<string, PlanStep>;
    const step = steps[commandUuid];
    if (!step || step.outcome === 'acknowledged' || step.outcome === 'error') {
      return;
    }
    step.outcome = outcome;
    if (error) {
      step.error = error;
    }
    cycle.planSteps = JSON.stringify(steps);
    await this.repository.updateCycle(cycle.id, { planSteps: cycle.planSteps });
    const installsAnswered = Object.values(steps).every((entry) => entry.requestType !== 'InstallApplication' || entry.outcome === 'acknowledged' || entry.outcome === 'error');
    if (cycle.releaseHeld && cycle.state === 'provisioning' && installsAnswered) {
      await this.releaseHeldBack(cycle, 'back');
    }
  }

  private stamp(cycle: RtsCycle, state: CycleState, at: Date): void {
    const deadline = new Date(at.getTime() + this.settings.phaseDeadlineSeconds * 1000);
    switch (state) {
      case 'erase-queued':
        cycle.eraseQueuedAt = at;
        cycle.deadlineAt = deadline;
        break;
      case 'erase-acknowledged':
        cycle.eraseAcknowledgedAt = at;
        cycle.deadlineAt = deadline;
        break;
      case 'provisioning':
        cycle.provisioningAt = at;
        cycle.deadlineAt = deadline;
        break;
      case 'configured':
        cycle.configuredAt = at;
        cycle.releaseDueAt = null;
        break;
      case 'snapshotting':
        cycle.snapshotStartedAt = at;
        cycle.deadlineAt = deadline;
        break;
      case 'blocked':
        cycle.deadlineAt = null;
        break;
      case 'returned-to-service':
        cycle.returnedAt = at;
        cycle.endedAt = at;
        cycle.deadlineAt = null;
        break;
      case 'failed':
        cycle.endedAt = at;
        cycle.deadlineAt = null;
        cycle.releaseDueAt = null;
        break;
      case 'stalled':
        cycle.deadlineAt = null;
        break;
      case 'requested':
        break;
    }
  }

  private async announce(cycle: RtsCycle, from: CycleState | undefined, reason: string | undefined, at: Date, causationId?: string): Promise<void> {
    const fields = { udid: cycle.udid, cycleId: cycle.id, from, to: cycle.state, reason };
    if (cycle.state === 'failed' || cycle.state === 'stalled') {
      this.logger.warn(fields, 'cycle transition');
    } else {
      this.logger.info(fields, 'cycle transition');
    }
    await this.bus.publish(
      CycleEvents[cycle.state],
      {
        cycleId: cycle.id,
        udid: cycle.udid,
        configuration: cycle.configurationName,
        trigger: cycle.trigger,
        preserveApps: cycle.preserveApps,
        state: cycle.state,
        ...(from ? { previousState: from } : {}),
        ...(reason ? { reason } : {}),
        at: at.toISOString(),
      },
      { subject: cycle.udid, correlationId: cycle.id, causationId },
    );
    if (isTerminal(cycle.state)) {
      this.logger.info({ udid: cycle.udid, cycleId: cycle.id, state: cycle.state }, 'cycle ended');
    }
  }
}

/**
 * DeviceConfigured (refused by the commands service once the enrollment was released) and, with
 * app preservation, the inventory right behind it: offered in the same session as the device
 * acknowledges DeviceConfigured, it is answered NotNow during the snapshot, and the device's Idle
 * after a NotNow is what marks the snapshot's end (a device that answered nothing need not send
 * one, and without pushes the end would go unseen).
 */
function releaseCommands(cycle: Pick<RtsCycle, 'releaseCommandUuid' | 'snapshotCommandUuid'>): QueuedCommand[] {
  const release: QueuedCommand = { ...withUuid(buildDeviceConfigured(), cycle.releaseCommandUuid ?? undefined), whileAwaitingConfiguration: true };

  return cycle.snapshotCommandUuid ? [release, withUuid(buildManagedApplicationList(), cycle.snapshotCommandUuid)] : [release];
}

function withUuid(command: PlistDict, commandUuid?: string): QueuedCommand {
  return commandUuid ? { commandUuid, requestType: String(command.RequestType), command } : queued(command);
}

/**
 * The plan's profiles go out by reference: an administrator may have put credentials in them, and
 * EnqueueCommands is an event every subscriber, the outbox and any dead letter would hold.
 */
function planCommands(plan: ProvisioningPlan, cycleId: string, key: Uint8Array): QueuedCommand[] {
  return [
    ...plan.profiles.map((profile) => profileCommand(cycleId, planProfileReference(profile, key))),
    ...plan.apps.map((app) => queued(buildInstallApplication(app))),
  ];
}

/** An InstallProfile whose Payload the commands service asks for as it delivers it (RenderProfile). */
export function profileCommand(cycleId: string, profile: ProfileReference): QueuedCommand {
  return { ...queued({ RequestType: 'InstallProfile' }), attachProfile: { cycleId, profile } };
}
