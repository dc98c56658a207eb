import { Controller, Get, Inject, Put, Req, Res, Post } from '@nestjs/common';
import type { Request, Response } from 'express';

import { answerDeviceError, createLogger, readRawBody, writeDeviceReply } from '@turnaround/platform';
import { parseCheckIn } from '@turnaround/protocol';

import { checkFieldLimits } from '../domain/field-limits.js';
import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { CheckinService } from './checkin.service.js';
import { DeviceIdentityService } from './device-identity.service.js';
import { EnrollmentProfileService } from './enrollment-profile.service.js';

/** The device-facing URLs of the check-in service. */
@Controller('mdm')
export class CheckinRoutesController {
  private readonly logger = createLogger('CheckinRoutes');

  constructor(
    private readonly checkin: CheckinService,
    private readonly identities: DeviceIdentityService,
    private readonly profiles: EnrollmentProfileService,
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
  ) {}

  @Put('checkin')
  async checkIn(@Req() request: Request, @Res() response: Response): Promise<void> {
    let udid: string | undefined;
    let messageType: string | undefined;
    try {
      const body = await readRawBody(request, this.settings.maxBodyBytes);
      const identity = this.identities.verify(request, body);
      const message = parseCheckIn(body);
      checkFieldLimits(message);
      udid = message.udid ?? message.enrollmentId;
      messageType = message.messageType;
      const reply = await this.checkin.handle(message, identity);
      this.logger.debug({ udid, messageType, status: reply.status }, 'check-in answered');
      writeDeviceReply(response, reply);
    } catch (error) {
      answerDeviceError(response, request, this.logger, error, { udid, messageType });
    }
  }

  /**
   * The enrollment profile, with a fresh identity each time. Devices reach it as the ADE profile's
   * `url` or by download. TODO(#3): verify the ADE MachineInfo and answer 403 when an OS update is
   * required first; until then anyone who can reach this URL can enroll a device.
   */
  @Get('enroll')
  async enrollmentProfile(@Req() request: Request, @Res() response: Response): Promise<void> {
    try {
      writeDeviceReply(response, { status: 200, body: await this.profiles.issue(), contentType: 'application/x-apple-aspen-config' });
    } catch (error) {
      answerDeviceError(response, request, this.logger, error);
    }
  }

  @Post('enroll')
  async enrollmentProfileForMachineInfo(@Req() request: Request, @Res() response: Response): Promise<void> {
    try {
      await readRawBody(request, this.settings.maxBodyBytes);
    } catch (error) {
      answerDeviceError(response, request, this.logger, error);

      return;
    }
    await this.enrollmentProfile(request, response);
  }
}
