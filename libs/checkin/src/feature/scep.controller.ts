import { Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';

import {
  answerDeviceError,
  createLogger,
  deviceRequestTimer,
  readRawBody,
  writeDeviceReply,
} from '@turnaround/platform';

import { ScepRequestError } from '../domain/scep.errors.js';
import { CHECKIN_SETTINGS } from './checkin.settings.js';
import type { CheckinSettings } from './checkin.settings.js';
import { SCEP_PATH, ScepService } from './scep.service.js';

// base64 with the URL-safe and URL-encoded variants clients put in a query string.
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** SCEP over HTTP (RFC 8894 §4): GET for the CA's capabilities and certificate, POST or GET for PKIOperation. */
@Controller(SCEP_PATH)
export class ScepController {
  private readonly logger = createLogger('ScepRoutes');

  constructor(
    private readonly scep: ScepService,
    @Inject(CHECKIN_SETTINGS) private readonly settings: CheckinSettings,
  ) {}

  @Get()
  async get(@Req() request: Request, @Res() response: Response): Promise<void> {
    const query = queryOf(request);
    const operation = query.get('operation');
    await this.respond(request, response, operation, () => {
      const message = query.get('message');

      return Promise.resolve(
        operation === 'PKIOperation' && message !== null ? this.decodeMessage(message) : undefined,
      );
    });
  }

  @Post()
  async post(@Req() request: Request, @Res() response: Response): Promise<void> {
    const operation = queryOf(request).get('operation');
    await this.respond(request, response, operation, () =>
      readRawBody(request, this.settings.maxBodyBytes),
    );
  }

  private async respond(
    request: Request,
    response: Response,
    operation: string | null,
    message: () => Promise<Buffer | undefined>,
  ): Promise<void> {
    const answered = deviceRequestTimer('enroll');
    try {
      writeDeviceReply(response, await this.scep.answer(operation, await message()));
    } catch (error) {
      answerDeviceError(response, request, this.logger, error, {
        operation: operation?.slice(0, 40),
      });
    } finally {
      answered(operation ?? undefined, response.statusCode);
    }
  }

  /** GET PKIOperation: the message as base64 in the query (a `+` may arrive as a space). */
  private decodeMessage(text: string): Buffer {
    const compact = text.replace(/ /g, '+').replace(/\s+/g, '');
    if (compact.length > (this.settings.maxBodyBytes * 4) / 3 + 4 || !BASE64.test(compact)) {
      throw new ScepRequestError(
        'ENROLLMENT.SCEP_MESSAGE_UNREADABLE',
        'the PKIOperation message is not base64 of a bounded size',
      );
    }

    return Buffer.from(
      compact,
      compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64',
    );
  }
}

function queryOf(request: Request): URLSearchParams {
  return new URL(request.originalUrl ?? request.url, 'http://localhost').searchParams;
}
