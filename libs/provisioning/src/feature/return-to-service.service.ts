import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { IssueEnrollmentProfile } from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';
import { createLogger } from '@turnaround/platform';
import { buildEraseDevice } from '@turnaround/protocol';

import {
  AdeAssignment,
  compareVersions,
  isComparableVersion,
  mdmProfileNeed,
  RTS_MINIMUM_OS,
  RTS_UNSUPPORTED_PLATFORMS,
} from '../domain/mdm-profile-rule.js';
import { ProvisioningError } from '../domain/provisioning.errors.js';
import {
  ActiveCycleExistsError,
  ManagedDevice,
  ProvisioningRepository,
  RtsConfiguration,
  RtsCycle,
} from '../data-access/provisioning.repository.js';
import { isTerminal } from '../domain/rts-cycle.js';
import { CycleService, queued } from './cycle.service.js';
import { PROVISIONING_SETTINGS } from './provisioning.settings.js';
import type { ProvisioningSettings } from './provisioning.settings.js';

const TRIGGER_CONCURRENCY = 8;

export interface TriggerResult {
  udid: string;
  cycleId?: string;
  error?: { code: string; message: string };
}

/** Starts Return to Service cycles: checks the device, builds the erase, queues it. */
@Injectable()
export class ReturnToServiceService {
  private readonly logger = createLogger('ReturnToServiceService');

  constructor(
    private readonly bus: MessageBus,
    private readonly cycles: CycleService,
    private readonly repository: ProvisioningRepository,
    @Inject(PROVISIONING_SETTINGS) private readonly settings: ProvisioningSettings,
  ) {}

  /** One result per device; one device's refusal never stops the others. */
  async trigger(udids: string[], configurationName: string): Promise<TriggerResult[]> {
    const configuration = await this.repository.findConfiguration(configurationName);
    if (!configuration) {
      throw new ProvisioningError('CONFIGURATION.NOT_FOUND', `no RTS configuration named ${configurationName}`);
    }
    const results: TriggerResult[] = new Array(udids.length);
    let next = 0;
    // A few devices at a time: issuing identities and queueing erases overlap, and one device's
    // slow step does not hold the rest.
    const worker = async (): Promise<void> => {
      for (let index = next++; index < udids.length; index = next++) {
        results[index] = await this.startOne(udids[index]!, configuration);
      }
    };
    await Promise.all(Array.from({ length: Math.min(TRIGGER_CONCURRENCY, udids.length) }, worker));

    return results;
  }

  private async startOne(udid: string, configuration: RtsConfiguration): Promise<TriggerResult> {
    try {
      return { udid, cycleId: await this.start(udid, configuration) };
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'INTERNAL';
      if (!(error instanceof ProvisioningError || error instanceof ActiveCycleExistsError)) {
        this.logger.error({ udid, err: error }, 'return to service could not start');
      }

      return { udid, error: { code, message: (error as Error).message } };
    }
  }

  private async start(udid: string, configuration: RtsConfiguration): Promise<string> {
    const device = await this.eligibleDevice(udid);
    const need = mdmProfileNeed(device.enrolledViaAde, configuration.ade ? (JSON.parse(configuration.ade) as AdeAssignment) : null);
    const erase = queued(
      buildEraseDevice({
        returnToService: {
          enabled: true,
          ...(configuration.wifiProfile ? { wifiProfileData: Buffer.from(configuration.wifiProfile, 'base64') } : {}),
          ...(need.required ? { mdmProfileData: await this.enrollmentProfile(udid, configuration) } : {}),
        },
      }),
    );
    const now = new Date();
    const cycle: RtsCycle = {
      id: randomUUID(),
      udid,
      configurationId: configuration.id,
      configurationName: configuration.name,
      trigger: 'service',
      state: 'requested',
      stalledIn: null,
      reason: null,
      enrollmentId: device.enrollmentId!,
      newEnrollmentId: null,
      eraseCommandUuid: erase.commandUuid,
      releaseCommandUuid: null,
      planSteps: '{}',
      mdmProfileBecause: need.required ? need.because : null,
      requestedAt: now,
      eraseQueuedAt: null,
      eraseAcknowledgedAt: null,
      provisioningAt: null,
      configuredAt: null,
      returnedAt: null,
      endedAt: null,
      deadlineAt: null,
      releaseDueAt: null,
      updatedAt: now,
    };
    await this.repository.startCycle(cycle);
    try {
      await this.cycles.announceRequested(cycle);
      await this.cycles.apply(cycle, { type: 'erase-queued' });
      await this.cycles.enqueue(udid, cycle.enrollmentId, [erase], cycle.id);
    } catch (error) {
      // The erase may not be queued: a cycle that waits for it would only stall an hour later.
      await this.cycles.apply(cycle, { type: 'start-failed', reason: `the erase could not be queued: ${(error as Error).message}` }).catch(() => false);
      throw error;
    }
    this.logger.info(
      { udid, cycleId: cycle.id, commandUuid: erase.commandUuid, configuration: configuration.name, mdmProfileData: need.required ? need.because : 'not needed' },
      'return to service queued',
    );

    return cycle.id;
  }

  /** The device, if Return to Service may start for it now; otherwise why not. */
  private async eligibleDevice(udid: string): Promise<ManagedDevice> {
    const device = await this.repository.findDevice(udid);
    if (!device) {
      throw new ProvisioningError('DEVICE.NOT_FOUND', `no enrolled device ${udid} (a device that has just enrolled is known a moment later)`);
    }
    if (device.enrollmentStatus !== 'enrolled' || !device.enrollmentId) {
      throw new ProvisioningError('DEVICE.NOT_ENROLLED', `device ${udid} is not enrolled`);
    }
    // Apple allows EraseDevice, and so Return to Service, on the device channel only (B22).
    if (device.userEnrollment) {
      throw new ProvisioningError('DEVICE.USER_ENROLLMENT', `device ${udid} is a User Enrollment; Return to Service needs a device enrollment`);
    }
    if (RTS_UNSUPPORTED_PLATFORMS.has(device.platform)) {
      throw new ProvisioningError('DEVICE.RTS_UNSUPPORTED', `Return to Service does not exist on ${device.platform}; ${udid} is a ${device.productName ?? device.platform}`);
    }
    if (device.currentCycleId) {
      // Checked again, atomically, when the cycle is stored; here it spares issuing a profile.
      const current = await this.repository.findCycle(device.currentCycleId);
      if (current && !isTerminal(current.state) && current.state !== 'stalled') {
        throw new ProvisioningError('CYCLE.ALREADY_ACTIVE', `cycle ${current.id} of ${udid} is still ${current.state}`);
      }
    }
    const minimum = RTS_MINIMUM_OS[device.platform];
    if (minimum && device.osVersion && isComparableVersion(device.osVersion) && compareVersions(device.osVersion, minimum) < 0) {
      throw new ProvisioningError('DEVICE.OS_TOO_OLD', `Return to Service needs ${device.platform} ${minimum} or later; ${udid} runs ${device.osVersion}`);
    }

    return device;
  }

  private async enrollmentProfile(udid: string, configuration: RtsConfiguration): Promise<Buffer> {
    if (configuration.enrollmentProfile) {
      return Buffer.from(configuration.enrollmentProfile, 'base64');
    }
    try {
      const reply = await this.bus.request(IssueEnrollmentProfile, { udid }, { subject: udid, timeoutMs: this.settings.requestTimeoutMs });

      return Buffer.from(reply.profile, 'base64');
    } catch (error) {
      throw new ProvisioningError(
        'CYCLE.ENROLLMENT_PROFILE_UNAVAILABLE',
        `device ${udid} needs MDMProfileData and no enrollment profile could be issued: ${(error as Error).message}`,
      );
    }
  }
}
