import { Injectable } from '@nestjs/common';

import {
  AwaitConfiguration,
  CommandAcknowledged,
  CommandDelivered,
  CommandFailed,
  DataOf,
  DeviceCheckedOut,
  DeviceEnrolled,
} from '@turnaround/contracts';
import { createLogger } from '@turnaround/platform';
import {
  buildActivationLockBypassCode,
  buildDeviceConfigured,
  buildDeviceInformation,
  buildSecurityInfo,
} from '@turnaround/protocol';

import { readPlan } from '../domain/plan.js';
import { standingWifiReference } from '../domain/profile-reference.js';
import { buildSessionTimeoutSettings } from '../domain/session-timeout.js';
import { checkReturnToServiceWifi } from '../domain/wifi-rules.js';
import { ManagedDevice, ProvisioningRepository, RtsConfiguration, RtsCycle } from '../data-access/provisioning.repository.js';
import { CycleService, PlanStep, profileCommand, queued, QueuedCommand, SnapshotApp } from './cycle.service.js';
import { ReturnToServiceService } from './return-to-service.service.js';

/** What the service asks every device right after it enrolls: who it is and how it is managed. */
export const INVENTORY_QUERIES = [
  'UDID',
  'SerialNumber',
  'ProductName',
  'Model',
  'DeviceName',
  'OSVersion',
  'BuildVersion',
  'IsSupervised',
  'IsActivationLockEnabled',
  'AwaitingConfiguration',
];

/**
 * Reacts to what devices do: keeps the device view current, moves the device's RTS cycle, and
 * releases devices that wait in Setup Assistant.
 */
@Injectable()
export class DeviceWorkflowService {
  private readonly logger = createLogger('DeviceWorkflowService');

  constructor(
    private readonly cycles: CycleService,
    private readonly repository: ProvisioningRepository,
    private readonly returnToService: ReturnToServiceService,
  ) {}

  async enrolled(event: DataOf<typeof DeviceEnrolled>, causationId: string): Promise<void> {
    const now = new Date();
    const existing = await this.repository.findDevice(event.udid);
    const sameEnrollment = existing?.enrollmentId === event.enrollmentId;
    const device: ManagedDevice = {
      udid: event.udid,
      currentCycleId: existing?.currentCycleId ?? null,
      releaseCommandUuid: existing?.releaseCommandUuid ?? null,
      rtsConfigurationId: existing?.rtsConfigurationId ?? null,
      inServiceSince: existing?.inServiceSince ?? null,
      enrolledViaAde: existing?.enrolledViaAde ?? null,
      supervised: existing?.supervised ?? null,
      activationLockEnabled: existing?.activationLockEnabled ?? null,
      enrollmentId: event.enrollmentId,
      enrollmentStatus: 'enrolled',
      serialNumber: event.serialNumber ?? existing?.serialNumber ?? null,
      productName: event.productName ?? existing?.productName ?? null,
      osVersion: event.osVersion ?? existing?.osVersion ?? null,
      platform: event.platform,
      userEnrollment: event.userEnrollment,
      awaitingConfiguration: event.awaitingConfiguration,
      enrolledAt: sameEnrollment && existing ? existing.enrolledAt : now,
      updatedAt: now,
    };
    if (event.fresh && !sameEnrollment) {
      // A fresh enrollment starts with nothing known: facts from before an erase may be stale (B06).
      device.releaseCommandUuid = null;
      device.supervised = null;
      device.activationLockEnabled = null;
    }
    await this.repository.saveDevice(device);
    if (event.fresh && !sameEnrollment) {
      await this.repository.updateDevice(device.udid, { releaseCommandUuid: null });
    }
    if (event.fresh && !sameEnrollment && !event.userEnrollment) {
      // The bypass code is asked for on every fresh enrollment: the device makes a new one after
      // each erase, and only the current one clears Activation Lock. Unsupervised devices refuse
      // the query, which costs one Error.
      await this.cycles.enqueue(
        event.udid,
        event.enrollmentId,
        [queued(buildDeviceInformation(INVENTORY_QUERIES)), queued(buildSecurityInfo()), queued(buildActivationLockBypassCode())],
        device.currentCycleId ?? undefined,
      );
    }
    this.logger.info({ udid: event.udid, enrollmentId: event.enrollmentId, fresh: event.fresh, causationId }, 'device enrolled');
  }

  async awaitingConfiguration(event: DataOf<typeof AwaitConfiguration>, causationId: string): Promise<void> {
    const device = await this.repository.findDevice(event.udid);
    if (!device || device.enrollmentId !== event.enrollmentId) {
      // The enrollment event has not been applied yet; a retry will find it.
      throw new Error(`device ${event.udid} enrollment ${event.enrollmentId} not known yet`);
    }
    const cycle = await this.currentCycle(device);
    if (cycle && cycle.enrollmentId !== event.enrollmentId) {
      if (cycle.newEnrollmentId === event.enrollmentId) {
        return;
      }
      const configuration = await this.repository.findConfiguration(cycle.configurationId);
      const extras = configuration ? standingCommands(device, configuration, cycle, this.cycles.profileKey) : [];
      if (await this.cycles.provision(cycle, event.enrollmentId, readPlan(configuration ? JSON.parse(configuration.plan) : null), extras, causationId)) {
        return;
      }
      // The cycle cannot take this enrollment (it ended meanwhile): the device must still be
      // released, or it waits in Setup Assistant for good.
      this.logger.warn({ udid: event.udid, cycleId: cycle.id, state: cycle.state }, 'fresh enrollment outside its cycle; released without a plan');
    }
    if (device.releaseCommandUuid) {
      return;
    }
    // No cycle of ours brought it here (a first ADE enrollment): release it, or it waits forever.
    const release = queued(buildDeviceConfigured());
    await this.repository.updateDevice(device.udid, { releaseCommandUuid: release.commandUuid });
    await this.cycles.enqueue(event.udid, event.enrollmentId, [release]);
    this.logger.info({ udid: event.udid, enrollmentId: event.enrollmentId, commandUuid: release.commandUuid }, 'release queued outside a cycle');
  }

  async checkedOut(event: DataOf<typeof DeviceCheckedOut>): Promise<void> {
    const device = await this.repository.findDevice(event.udid);
    if (!device || device.enrollmentId !== event.enrollmentId) {
      return;
    }
    device.enrollmentStatus = 'checked-out';
    device.updatedAt = new Date();
    await this.repository.saveDevice(device);
  }

  async acknowledged(event: DataOf<typeof CommandAcknowledged>, causationId: string): Promise<void> {
    const device = await this.repository.findDevice(event.udid);
    if (!device) {
      return;
    }
    if (event.facts) {
      applyFacts(device, event.facts);
      device.updatedAt = new Date();
      await this.repository.saveDevice(device);
    }
    if (event.commandUuid === device.releaseCommandUuid) {
      device.awaitingConfiguration = false;
      await this.repository.saveDevice(device);
      await this.repository.updateDevice(device.udid, { inServiceSince: new Date() });
    }
    const cycle = await this.currentCycle(device);
    if (!cycle) {
      return;
    }
    if (event.commandUuid === cycle.lockCheckCommandUuid) {
      await this.returnToService.lockChecked(cycle, causationId);
    } else if (event.commandUuid === cycle.eraseCommandUuid) {
      await this.cycles.apply(cycle, { type: 'erase-acknowledged' }, causationId);
    } else if (event.commandUuid === cycle.releaseCommandUuid) {
      device.awaitingConfiguration = false;
      await this.repository.saveDevice(device);
      await this.release(cycle, causationId);
    } else if (event.commandUuid === cycle.snapshotCommandUuid) {
      if (cycle.state === 'provisioning' || (cycle.state === 'stalled' && cycle.stalledIn === 'provisioning')) {
        await this.cycles.requeueInventory(cycle);
      } else {
        await this.cycles.snapshotReady(cycle, snapshotApps(event.facts?.applications), causationId);
      }
    } else {
      await this.cycles.recordStep(cycle, event.commandUuid, 'acknowledged');
    }
  }

  async failed(event: DataOf<typeof CommandFailed>, causationId: string): Promise<void> {
    const device = await this.repository.findDevice(event.udid);
    const cycle = device ? await this.currentCycle(device) : null;
    if (!cycle) {
      return;
    }
    const reason = `${event.requestType} ${event.status}: ${event.errors.map((error) => [error.domain, error.code, error.description].filter((part) => part !== undefined).join(' ')).join('; ') || 'no error chain'}`;
    if (event.commandUuid === cycle.lockCheckCommandUuid) {
      // The device would not say: go by what it said last.
      await this.returnToService.lockChecked(cycle, causationId);
    } else if (event.commandUuid === cycle.eraseCommandUuid) {
      await this.cycles.apply(cycle, { type: 'erase-failed', reason }, causationId);
    } else if (event.commandUuid === cycle.releaseCommandUuid) {
      if (event.status === 'Refused') {
        // Refused because this enrollment's DeviceConfigured was acknowledged already: released.
        await this.release(cycle, causationId);
      } else {
        await this.cycles.apply(cycle, { type: 'device-configured-failed', reason }, causationId);
      }
    } else if (event.commandUuid === cycle.snapshotCommandUuid) {
      await this.cycles.snapshotReady(cycle, null, causationId);
      await this.markInService(cycle);
    } else {
      await this.cycles.recordStep(cycle, event.commandUuid, 'error', reason);
    }
  }

  /** `at`: when the commands service handed the command to the device, not when this runs. */
  async delivered(event: DataOf<typeof CommandDelivered>, at: Date = new Date()): Promise<void> {
    const device = await this.repository.findDevice(event.udid);
    const cycle = device ? await this.currentCycle(device) : null;
    if (!cycle) {
      return;
    }
    if (event.commandUuid === cycle.eraseCommandUuid && event.bootstrapTokenIncluded === false) {
      await this.cycles.declinePreservation(cycle, 'the erase went out without a bootstrap token: escrow had none when it was delivered');
    }
    if (event.commandUuid === cycle.snapshotCommandUuid && cycle.state === 'snapshotting') {
      // The inventory goes out in answer to the device's request; the last time that happens in
      // the snapshot phase is the device's Idle after its snapshot, the moment it is back in
      // service and the idle timeout starts to run.
      await this.repository.updateDevice(event.udid, { inServiceSince: at });
    }
    // The cycle as loaded here, not again: every delivery of an RTS cycle passes this way.
    await this.recordOutcome(cycle, event.commandUuid, 'delivered');
  }

  async stepOutcome(udid: string, commandUuid: string, outcome: PlanStep['outcome']): Promise<void> {
    const device = await this.repository.findDevice(udid);
    const cycle = device ? await this.currentCycle(device) : null;
    if (cycle) {
      await this.recordOutcome(cycle, commandUuid, outcome);
    }
  }

  private async recordOutcome(cycle: RtsCycle, commandUuid: string, outcome: PlanStep['outcome']): Promise<void> {
    if (commandUuid === cycle.snapshotCommandUuid) {
      // NotNow here is the device at work on its snapshot (section 8.2 step 9), never a failure.
      if (outcome === 'not-now') {
        await this.repository.updateCycle(cycle.id, { snapshotNotNows: cycle.snapshotNotNows + 1 });
      }

      return;
    }
    await this.cycles.recordStep(cycle, commandUuid, outcome);
  }

  /**
   * DeviceConfigured was acknowledged. Standard RTS ends here: the device finishes Setup Assistant
   * on its own. With app preservation the snapshot phase starts. Checked on the state rather than
   * the step before, so a redelivered acknowledgement finishes a cycle that stopped between the two.
   */
  private async release(cycle: RtsCycle, causationId: string): Promise<void> {
    await this.cycles.apply(cycle, { type: 'device-configured-acknowledged' }, causationId);
    if (cycle.state !== 'configured') {
      return;
    }
    if (cycle.preserveApps && cycle.snapshotCommandUuid) {
      await this.cycles.apply(cycle, { type: 'snapshot-started' }, causationId);
    } else if (await this.cycles.apply(cycle, { type: 'released' }, causationId)) {
      await this.markInService(cycle);
    }
  }

  private async markInService(cycle: RtsCycle): Promise<void> {
    if (cycle.state === 'returned-to-service') {
      await this.repository.updateDevice(cycle.udid, { inServiceSince: cycle.returnedAt ?? new Date() });
    }
  }

  private async currentCycle(device: ManagedDevice): Promise<RtsCycle | null> {
    return device.currentCycleId ? this.repository.findCycle(device.currentCycleId) : null;
  }
}

/**
 * What a configuration puts on the device in every cycle besides its plan. On visionOS: the Wi-Fi
 * profile again when it lets the device join before first unlock (Apple: reinstall it each cycle,
 * and it installs only in RTS with app preservation), and the idle timeout. Without a cycle (an
 * assignment) only the idle timeout. The Wi-Fi profile holds the network's password, so it goes
 * out by reference, rendered for the cycle as it is delivered.
 */
export function standingCommands(
  device: Pick<ManagedDevice, 'platform'>,
  configuration: RtsConfiguration,
  cycle: Pick<RtsCycle, 'id' | 'preserveApps'> | null,
  profileKey: Uint8Array,
): QueuedCommand[] {
  if (device.platform !== 'visionos') {
    return [];
  }
  const commands: QueuedCommand[] = [];
  if (cycle?.preserveApps && configuration.wifiProfile) {
    const wifi = Buffer.from(configuration.wifiProfile, 'base64');
    if (checkReturnToServiceWifi(wifi, { preserveApps: true }).allowJoinBeforeFirstUnlock) {
      commands.push(profileCommand(cycle.id, standingWifiReference(wifi, profileKey)));
    }
  }
  if (configuration.temporarySessionTimeout !== null) {
    commands.push(queued(buildSessionTimeoutSettings(configuration.temporarySessionTimeout)));
  }

  return commands;
}

/** The managed apps of an inventory result, as SnapshotReady carries them. */
function snapshotApps(applications: readonly Record<string, unknown>[] | undefined): SnapshotApp[] {
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

  return (applications ?? []).flatMap((app) => {
    const identifier = text(app.identifier);
    if (!identifier) {
      return [];
    }
    const version = text(app.shortVersion) ?? text(app.version);
    const status = text(app.status);

    return [{ identifier, ...(version ? { version } : {}), ...(status ? { status } : {}) }];
  });
}

/** Copies what the device told us into its record; a fact the device did not report stays. */
function applyFacts(device: ManagedDevice, facts: NonNullable<DataOf<typeof CommandAcknowledged>['facts']>): void {
  const information = facts.deviceInformation ?? {};
  const security = facts.securityInfo ?? {};
  const text = (part: Record<string, unknown>, key: string): string | undefined => (typeof part[key] === 'string' ? (part[key] as string) : undefined);
  const flag = (part: Record<string, unknown>, key: string): boolean | undefined => (typeof part[key] === 'boolean' ? (part[key] as boolean) : undefined);
  device.osVersion = text(information, 'osVersion') ?? device.osVersion;
  device.productName = text(information, 'productName') ?? device.productName;
  device.serialNumber = text(information, 'serialNumber') ?? device.serialNumber;
  device.supervised = flag(information, 'isSupervised') ?? device.supervised;
  device.activationLockEnabled = flag(information, 'isActivationLockEnabled') ?? device.activationLockEnabled;
  device.enrolledViaAde = flag(security, 'enrolledViaDep') ?? device.enrolledViaAde;
}
