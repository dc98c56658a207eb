import { Injectable } from '@nestjs/common';

import { createLogger } from '@turnaround/platform';

import { ProvisioningError } from '../domain/provisioning.errors.js';
import { ProvisioningRepository, RtsConfiguration } from '../data-access/provisioning.repository.js';
import { CycleService } from './cycle.service.js';
import { standingCommands } from './device-workflow.service.js';

export interface AssignmentResult {
  udid: string;
  error?: { code: string; message: string };
}

/**
 * Which RTS configuration answers a device that asks for Return to Service itself. Assigning one
 * also puts the configuration's standing settings on the device now (the visionOS idle timeout),
 * so the idle trigger works before the first cycle; each cycle puts them there again.
 */
@Injectable()
export class DeviceAssignmentService {
  private readonly logger = createLogger('DeviceAssignmentService');

  constructor(
    private readonly cycles: CycleService,
    private readonly repository: ProvisioningRepository,
  ) {}

  async assign(udids: string[], configurationName: string | null): Promise<AssignmentResult[]> {
    let configuration: RtsConfiguration | null = null;
    if (configurationName !== null) {
      configuration = await this.repository.findConfiguration(configurationName);
      if (!configuration) {
        throw new ProvisioningError('CONFIGURATION.NOT_FOUND', `no RTS configuration named ${configurationName}`);
      }
    }
    const results: AssignmentResult[] = [];
    for (const udid of udids) {
      results.push(await this.assignOne(udid, configuration));
    }

    return results;
  }

  private async assignOne(udid: string, configuration: RtsConfiguration | null): Promise<AssignmentResult> {
    const device = await this.repository.findDevice(udid);
    if (!device) {
      return { udid, error: { code: 'DEVICE.NOT_FOUND', message: `no device ${udid}` } };
    }
    await this.repository.updateDevice(udid, { rtsConfigurationId: configuration?.id ?? null });
    if (configuration && device.enrollmentStatus === 'enrolled' && device.enrollmentId && !device.userEnrollment) {
      const commands = standingCommands(device, configuration, null, this.cycles.profileKey);
      await this.cycles.enqueue(udid, device.enrollmentId, commands);
    }
    this.logger.info({ udid, configuration: configuration?.name ?? null }, 'RTS configuration assigned');

    return { udid };
  }
}
