import type { IncomingMessage, ServerResponse } from 'node:http';

import { Controller, Get, Inject, Put, Req, Res, Post } from '@nestjs/common';
import type { Request, Response } from 'express';

import { annotateLogContext, answerDeviceError, createLogger, DeviceRoute, deviceRequestTimer, readRawBody, writeDeviceReply } from '@turnaround/platform';
import { parseCheckIn } from '@turnaround/protocol';

import { checkFieldLimits } from '../domain/field-limits.js';
import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { CheckinService } from './checkin.service.js';
import { DeviceIdentityService } from './device-identity.service.js';
import { EnrollmentProfileService } from './enrollment-profile.service.js';
import { MachineInfoEnrollmentService } from './machine-info-enrollment.service.js';

/** The device-facing URLs of the check-in service. */
@Controller('mdm')
export class CheckinRoutesController {
  private readonly logger = createLogger('CheckinRoutes');

  constructor(
    private readonly checkin: CheckinService,
    private readonly identities: DeviceIdentityService,
    private readonly machineInfoEnrollment: MachineInfoEnrollmentService,
    private readonly profiles: EnrollmentProfileService,
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
  ) {}

  @Put('checkin')
  @DeviceRoute(['PUT'], '/mdm/checkin')
  async checkIn(@Req() request: IncomingMessage, @Res() response: ServerResponse): Promise<void> {
    const answered = deviceRequestTimer('checkin');
    let udid: string | undefined;
    let messageType: string | undefined;
    try {
      const body = await readRawBody(request, this.settings.maxBodyBytes);
      const identity = this.identities.verify(request, body);
      const message = parseCheckIn(body);
      checkFieldLimits(message);
      udid = message.udid ?? message.enrollmentId;
      messageType = message.messageType;
      annotateLogContext({ udid, messageType });
      const reply = await this.checkin.handle(message, identity);
      this.logger.debug({ udid, messageType, status: reply.status }, 'check-in answered');
      writeDeviceReply(response, reply);
    } catch (error) {
      answerDeviceError(response, request, this.logger, error, { udid, messageType });
    } finally {
      answered(messageType, response.statusCode);
    }
  }

  /**
   * The enrollment profile, with a fresh identity each time, for a download: anyone who can reach
   * this URL gets one. The ADE fetch POSTs its MachineInfo below instead.
   */
  @Get('enroll')
  async enrollmentProfile(@Req() request: Request, @Res() response: Response): Promise<void> {
    const answered = deviceRequestTimer('enroll');
    try {
      writeDeviceReply(response, { status: 200, body: await this.profiles.issue(), contentType: 'application/x-apple-aspen-config' });
    } catch (error) {
      answerDeviceError(response, request, this.logger, error);
    } finally {
      answered('Profile', response.statusCode);
    }
  }

  /** The ADE profile `url`: the device POSTs its CMS-signed MachineInfo (protocol doc §5.2, §6). */
  @Post('enroll')
  async enrollmentProfileForMachineInfo(@Req() request: Request, @Res() response: Response): Promise<void> {
    const answered = deviceRequestTimer('enroll');
    try {
      const body = await readRawBody(request, this.settings.maxBodyBytes);
      writeDeviceReply(response, await this.machineInfoEnrollment.answer(body));
    } catch (error) {
      answerDeviceError(response, request, this.logger, error);
    } finally {
      answered('MachineInfo', response.statusCode);
    }
  }
}
