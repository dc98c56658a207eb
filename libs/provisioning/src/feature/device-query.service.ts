import { Inject, Injectable } from '@nestjs/common';

import { DescribeBootstrapToken, ReplyOf, RewrapEscrowKeys } from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';

import { phaseDurations } from '../domain/rts-cycle.js';
import { ProvisioningError } from '../domain/provisioning.errors.js';
import { ManagedDevice, ProvisioningRepository, RtsCycle, RtsCycleTransition } from '../data-access/provisioning.repository.js';
import { PlanStep, SnapshotApp } from './cycle.service.js';
import { PROVISIONING_SETTINGS } from './provisioning.settings.js';
import type { ProvisioningSettings } from './provisioning.settings.js';

type EscrowStatus = ReplyOf<typeof DescribeBootstrapToken> | { unknown: true; error: string };

/** Read models of the admin API, mapped explicitly from the tables. */
@Injectable()
export class DeviceQueryService {
  constructor(
    private readonly bus: MessageBus,
    private readonly repository: ProvisioningRepository,
    @Inject(PROVISIONING_SETTINGS) private readonly settings: ProvisioningSettings,
  ) {}

  async rewrapEscrow(): Promise<ReplyOf<typeof RewrapEscrowKeys>> {
    try {
      return await this.bus.request(RewrapEscrowKeys, { requestedBy: 'admin-api' }, { subject: 'escrow', timeoutMs: Math.max(this.settings.requestTimeoutMs, 60_000) });
    } catch (error) {
      throw new ProvisioningError('ESCROW.UNAVAILABLE', `escrow could not re-wrap its keys: ${(error as Error).message}`);
    }
  }

  /** Escrow status of one device: whether a token is there, which version, since when; never the token. */
  private async escrowStatus(udid: string): Promise<EscrowStatus> {
    try {
      return await this.bus.request(DescribeBootstrapToken, { udid }, { subject: udid, timeoutMs: this.settings.requestTimeoutMs });
    } catch (error) {
      return { unknown: true, error: (error as Error).message };
    }
  }

  async list(): Promise<unknown[]> {
    const devices = await this.repository.listDevices();
    const cycles = new Map((await this.repository.findCycles(devices.flatMap((device) => (device.currentCycleId ? [device.currentCycleId] : [])))).map((cycle) => [cycle.id, cycle]));

    return devices.map((device) => deviceView(device, device.currentCycleId ? cycles.get(device.currentCycleId) : undefined));
  }

  async get(udid: string): Promise<unknown> {
    const device = await this.repository.findDevice(udid);
    if (!device) {
      throw new ProvisioningError('DEVICE.NOT_FOUND', `no device ${udid}`);
    }
    const cycle = device.currentCycleId ? await this.repository.findCycle(device.currentCycleId) : null;
    const configuration = device.rtsConfigurationId ? await this.repository.findConfiguration(device.rtsConfigurationId) : null;

    return {
      ...deviceView(device, cycle ?? undefined),
      currentCycleId: device.currentCycleId,
      rtsConfiguration: configuration?.name ?? null,
      inServiceSince: iso(device.inServiceSince),
      bootstrapToken: await this.escrowStatus(udid),
    };
  }

  async history(udid: string): Promise<unknown[]> {
    if (!(await this.repository.findDevice(udid))) {
      throw new ProvisioningError('DEVICE.NOT_FOUND', `no device ${udid}`);
    }
    const cycles = await this.repository.cyclesOf(udid);
    const transitions = await this.repository.transitionsOf(cycles.map((cycle) => cycle.id));

    return cycles.map((cycle) => cycleView(cycle, transitions.filter((transition) => transition.cycleId === cycle.id)));
  }

  async cycle(id: string): Promise<unknown> {
    const cycle = await this.repository.findCycle(id);
    if (!cycle) {
      throw new ProvisioningError('CYCLE.NOT_FOUND', `no cycle ${id}`);
    }

    return cycleView(cycle, await this.repository.transitionsOf([id]));
  }
}

function deviceView(device: ManagedDevice, cycle?: RtsCycle) {
  return {
    udid: device.udid,
    serialNumber: device.serialNumber,
    productName: device.productName,
    platform: device.platform,
    osVersion: device.osVersion,
    enrollment: {
      id: device.enrollmentId,
      status: device.enrollmentStatus,
      userEnrollment: device.userEnrollment,
      awaitingConfiguration: device.awaitingConfiguration,
      enrolledViaAde: device.enrolledViaAde,
      supervised: device.supervised,
      activationLockEnabled: device.activationLockEnabled,
      enrolledAt: device.enrolledAt.toISOString(),
    },
    state: cycle ? cycle.state : device.enrollmentStatus === 'enrolled' ? (device.awaitingConfiguration ? 'awaiting-configuration' : 'in-service') : 'checked-out',
    currentCycle: cycle ? { id: cycle.id, state: cycle.state, reason: cycle.reason, requestedAt: cycle.requestedAt.toISOString() } : null,
  };
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function cycleView(cycle: RtsCycle, transitions: RtsCycleTransition[]) {
  return {
    id: cycle.id,
    udid: cycle.udid,
    configuration: cycle.configurationName,
    trigger: cycle.trigger,
    state: cycle.state,
    reason: cycle.reason,
    mdmProfileData: cycle.mdmProfileBecause,
    preserveApps: cycle.preserveApps,
    ...(cycle.preservationDeclined ? { preservationDeclined: cycle.preservationDeclined } : {}),
    ...(cycle.snapshotStartedAt
      ? {
          snapshot: {
            startedAt: iso(cycle.snapshotStartedAt),
            notNowAnswers: cycle.snapshotNotNows,
            apps: cycle.snapshotApps ? (JSON.parse(cycle.snapshotApps) as SnapshotApp[]) : null,
            ms: cycle.returnedAt ? cycle.returnedAt.getTime() - cycle.snapshotStartedAt.getTime() : null,
          },
        }
      : {}),
    requestedAt: iso(cycle.requestedAt),
    eraseQueuedAt: iso(cycle.eraseQueuedAt),
    eraseAcknowledgedAt: iso(cycle.eraseAcknowledgedAt),
    provisioningAt: iso(cycle.provisioningAt),
    configuredAt: iso(cycle.configuredAt),
    returnedAt: iso(cycle.returnedAt),
    endedAt: iso(cycle.endedAt),
    phasesMs: phaseDurations(cycle),
    plan: Object.entries(JSON.parse(cycle.planSteps) as Record<string, PlanStep>).map(([commandUuid, step]) => ({ commandUuid, ...step })),
    transitions: transitions.map((transition) => ({ from: transition.fromState, to: transition.toState, reason: transition.reason, at: transition.at.toISOString() })),
  };
}
