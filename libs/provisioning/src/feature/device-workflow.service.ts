import { Injectable } from '@nestjs/common';

import {
  AwaitConfiguration,
  CommandAcknowledged,
  CommandFailed,
  DataOf,
  DeviceCheckedOut,
  DeviceEnrolled,
} from '@turnaround/contracts';
import { createLogger } from '@turnaround/platform';
import { buildDeviceConfigured, buildDeviceInformation, buildSecurityInfo } from '@turnaround/protocol';

import { readPlan } from '../domain/plan.js';
import { ManagedDevice, ProvisioningRepository, RtsCycle } from '../data-access/provisioning.repository.js';
import { CycleService, PlanStep, queued } from './cycle.service.js';

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
  ) {}

  async enrolled(event: DataOf<typeof DeviceEnrolled>, causationId: string): Promise<void> {
    const now = new Date();
    const existing = await this.repository.findDevice(event.udid);
    const sameEnrollment = existing?.enrollmentId === event.enrollmentId;
    const device: ManagedDevice = {
      udid: event.udid,
      currentCycleId: existing?.currentCycleId ?? null,
      releaseCommandUuid: existing?.releaseCommandUuid ?? null,
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
    if (event.fresh && !sameEnrollment && !event.userEnrollment) {
      await this.cycles.enqueue(event.udid, event.enrollmentId, [queued(buildDeviceInformation(INVENTORY_QUERIES)), queued(buildSecurityInfo())], device.currentCycleId ?? undefined);
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
      await this.cycles.provision(cycle, event.enrollmentId, readPlan(configuration ? JSON.parse(configuration.plan) : null), causationId);

      return;
    }
    if (device.releaseCommandUuid) {
      return;
    }
    // No cycle of ours brought it here (a first ADE enrollment): release it, or it waits forever.
    const release = queued(buildDeviceConfigured());
    device.releaseCommandUuid = release.commandUuid;
    await this.repository.saveDevice(device);
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
    }
    const cycle = await this.currentCycle(device);
    if (!cycle) {
      return;
    }
    if (event.commandUuid === cycle.eraseCommandUuid) {
      await this.cycles.apply(cycle, { type: 'erase-acknowledged' }, causationId);
    } else if (event.commandUuid === cycle.releaseCommandUuid) {
      device.awaitingConfiguration = false;
      await this.repository.saveDevice(device);
      await this.cycles.apply(cycle, { type: 'device-configured-acknowledged' }, causationId);
      // Standard RTS: once released, the device finishes Setup Assistant on its own. Checked on
      // the state rather than the step above, so a redelivered acknowledgement finishes a cycle
      // that stopped between the two.
      if (cycle.state === 'configured') {
        await this.cycles.apply(cycle, { type: 'released' }, causationId);
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
    if (event.commandUuid === cycle.eraseCommandUuid) {
      await this.cycles.apply(cycle, { type: 'erase-failed', reason }, causationId);
    } else if (event.commandUuid === cycle.releaseCommandUuid) {
      await this.cycles.apply(cycle, { type: 'device-configured-failed', reason }, causationId);
    } else {
      await this.cycles.recordStep(cycle, event.commandUuid, 'error');
    }
  }

  async stepOutcome(udid: string, commandUuid: string, outcome: PlanStep['outcome']): Promise<void> {
    const device = await this.repository.findDevice(udid);
    const cycle = device ? await this.currentCycle(device) : null;
    if (cycle) {
      await this.cycles.recordStep(cycle, commandUuid, outcome);
    }
  }

  private async currentCycle(device: ManagedDevice): Promise<RtsCycle | null> {
    return device.currentCycleId ? this.repository.findCycle(device.currentCycleId) : null;
  }
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
