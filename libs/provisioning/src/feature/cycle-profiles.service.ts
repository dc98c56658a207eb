import { Injectable } from '@nestjs/common';

import { RenderProfile } from '@turnaround/contracts';
import type { DataOf, ReplyOf } from '@turnaround/contracts';
import { createLogger } from '@turnaround/platform';

import { readPlan } from '../domain/plan.js';
import { resolveProfile } from '../domain/profile-reference.js';
import { ProvisioningError } from '../domain/provisioning.errors.js';
import { ProvisioningRepository } from '../data-access/provisioning.repository.js';
import { CycleService } from './cycle.service.js';

type RenderRequest = DataOf<typeof RenderProfile>;

/**
 * Renders the profiles a cycle's InstallProfile commands name by reference (its plan's, the
 * standing Wi-Fi profile) for the commands service as it delivers them: the bytes, which may hold
 * credentials, never travel in EnqueueCommands. Nothing logged or thrown here carries them.
 */
@Injectable()
export class CycleProfilesService {
  private readonly logger = createLogger('CycleProfilesService');

  constructor(
    private readonly cycles: CycleService,
    private readonly repository: ProvisioningRepository,
  ) {}

  /**
   * The profile's bytes as the cycle's configuration holds them now. Refused when the cycle is not
   * the device's, or when the configuration no longer holds the profile with the bytes that were
   * queued: an administrator changed it meanwhile, and what they changed must not go out under
   * the old command.
   */
  async render(request: RenderRequest): Promise<ReplyOf<typeof RenderProfile>> {
    const { udid, cycleId, profile: reference } = request;
    const cycle = await this.repository.findCycle(cycleId);
    if (!cycle || cycle.udid !== udid) {
      throw new ProvisioningError('CYCLE.NOT_FOUND', `no cycle ${cycleId} of ${udid}`);
    }
    const configuration = await this.repository.findConfiguration(cycle.configurationId);
    const payload = configuration
      ? resolveProfile(
          { plan: readPlan(JSON.parse(configuration.plan)), wifiProfile: configuration.wifiProfile },
          reference,
          this.cycles.profileKey,
        )
      : null;
    const fields = { udid, cycleId, source: reference.source, profile: reference.name };
    if (!payload) {
      this.logger.warn(
        { ...fields, configuration: cycle.configurationName, configurationFound: configuration !== null },
        'profile changed since it was queued, not rendered',
      );
      throw new ProvisioningError(
        'CYCLE.PROFILE_CHANGED',
        `the RTS configuration of cycle ${cycleId} no longer holds that ${reference.source} profile as it was queued`,
      );
    }
    this.logger.info(fields, 'profile rendered');

    return { payload: payload.toString('base64') };
  }
}
