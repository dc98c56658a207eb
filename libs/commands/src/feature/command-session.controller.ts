import { Controller, Inject, Post, Put, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';

import {
  answerDeviceError,
  createLogger,
  readRawBody,
  writeDeviceReply,
} from '@turnaround/platform';
import type { TurnaroundConfig } from '@turnaround/platform';

import { CommandSessionService } from './command-session.service.js';
import { COMMANDS_CONFIG } from './commands.config.js';

/**
 * The MDM payload's ServerURL. Devices PUT; POST is accepted too. The app runs without a body
 * parser on /mdm routes because the Mdm-Signature covers the exact bytes.
 */
@Controller('mdm')
export class CommandSessionController {
  private readonly logger = createLogger('CommandSessionController');

  constructor(
    @Inject(COMMANDS_CONFIG) private readonly config: TurnaroundConfig,
    private readonly sessions: CommandSessionService,
  ) {}

  @Put('server')
  async put(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.answer(request, response);
  }

  @Post('server')
  async post(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.answer(request, response);
  }

  private async answer(request: Request, response: Response): Promise<void> {
    try {
      const body = await readRawBody(request, this.config.maxBodyBytes);
      const reply = await this.sessions.handle(body, request.header('mdm-signature'));
      writeDeviceReply(response, reply);
    } catch (error) {
      answerDeviceError(response, request, this.logger, error);
    }
  }
}
