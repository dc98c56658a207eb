import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';

import {
  CheckEnrollmentPolicy,
  PrepareDeviceReturnToService,
  RenderProfile,
  RenderReturnToServiceProfiles,
  ReturnToServiceAnswered,
} from '@turnaround/contracts';
import type { DataOf, Envelope, ReplyOf } from '@turnaround/contracts';
import { OnEvent, OnRequest } from '@turnaround/messaging';

import { CycleProfilesService } from './cycle-profiles.service.js';
import { ReturnToServiceService } from './return-to-service.service.js';

/**
 * What check-in asks provisioning while a device waits for its answer, and what it reports back;
 * and the profiles the commands service asks for as it delivers an erase or an InstallProfile.
 */
@Controller()
export class DeviceRequestsConsumer {
  constructor(
    private readonly profiles: CycleProfilesService,
    private readonly returnToService: ReturnToServiceService,
  ) {}

  @OnRequest(PrepareDeviceReturnToService)
  async prepare(@Payload() envelope: Envelope<DataOf<typeof PrepareDeviceReturnToService>>): Promise<ReplyOf<typeof PrepareDeviceReturnToService>> {
    return this.returnToService.prepareForDevice(envelope.data.udid, envelope.data.enrollmentId);
  }

  @OnRequest(RenderReturnToServiceProfiles)
  async renderProfiles(@Payload() envelope: Envelope<DataOf<typeof RenderReturnToServiceProfiles>>): Promise<ReplyOf<typeof RenderReturnToServiceProfiles>> {
    return this.returnToService.renderProfiles(envelope.data.udid, envelope.data.cycleId);
  }

  @OnRequest(RenderProfile)
  async renderProfile(@Payload() envelope: Envelope<DataOf<typeof RenderProfile>>): Promise<ReplyOf<typeof RenderProfile>> {
    return this.profiles.render(envelope.data);
  }

  @OnRequest(CheckEnrollmentPolicy)
  async enrollmentPolicy(@Payload() envelope: Envelope<DataOf<typeof CheckEnrollmentPolicy>>): Promise<ReplyOf<typeof CheckEnrollmentPolicy>> {
    return this.returnToService.enrollmentPolicy(envelope.data);
  }

  @OnEvent(ReturnToServiceAnswered, 'provisioning')
  async answered(envelope: Envelope<DataOf<typeof ReturnToServiceAnswered>>): Promise<void> {
    await this.returnToService.answered(envelope.data, envelope.id);
  }
}
