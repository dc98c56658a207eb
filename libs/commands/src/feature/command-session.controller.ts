import type { IncomingMessage, ServerResponse } from 'node:http';

import { Controller, Inject, Post, Put, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';

import { deviceProofOf } from '@turnaround/identity';
import {
  answerDeviceError,
  createLogger,
  deviceRequestTimer,
  DeviceRoute,
  readRawBody,
  runWithChildLogContext,
  writeDeviceReply,
} from '@turnaround/platform';
import type { LogContext, TurnaroundConfig } from '@turnaround/platform';

import { CommandSessionService } from './command-session.service.js';
import { COMMANDS_CONFIG } from './commands.config.js';
import { EscrowUnavailableError, ProvisioningUnavailableError } from './commands.errors.js';

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
    await this.serve(request, response);
  }

  @Post('server')
  async post(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.serve(request, response);
  }

  // The session service notes the report's Status in the request's log context once it read it;
  // a context of the request's own keeps that readable here for the metrics.
  @DeviceRoute(['PUT', 'POST'], '/mdm/server')
  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    await runWithChildLogContext((context) => this.answer(request, response, context));
  }

  private async answer(
    request: IncomingMessage,
    response: ServerResponse,
    context: Readonly<LogContext>,
  ): Promise<void> {
    const answered = deviceRequestTimer('command');
    let body: Buffer | undefined;
    try {
      body = await readRawBody(request, this.config.maxBodyBytes);
      const reply = await this.sessions.handle(
        body,
        deviceProofOf(request.headers, this.config.clientCertificateHeader),
      );
      writeDeviceReply(response, reply);
      const sent = reply.body;
      if (reply.secret && Buffer.isBuffer(sent)) {
        // The erase carries its token or profiles: wiped once the socket is done with it.
        response.once('close', () => sent.fill(0));
      }
    } catch (error) {
      if (error instanceof EscrowUnavailableError || error instanceof ProvisioningUnavailableError) {
        response.setHeader('Retry-After', String(error.retryAfterSeconds));
      }
      answerDeviceError(response, request, this.logger, error);
    } finally {
      // A result may hold a bypass code; the request bytes are not kept around either.
      body?.fill(0);
      answered(context.messageType, response.statusCode);
    }
  }
}
