import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Response } from 'express';

import { createLogger } from '@turnaround/platform';

import { ProvisioningError, ProvisioningErrorCode } from '../domain/provisioning.errors.js';
import { UnauthorizedApiError } from './admin-api.guard.js';

const STATUS: Record<ProvisioningErrorCode, number> = {
  'CONFIGURATION.NOT_FOUND': 404,
  'CONFIGURATION.INVALID': 422,
  'CONFIGURATION.NAME_TAKEN': 409,
  'DEVICE.NOT_FOUND': 404,
  'DEVICE.NOT_ENROLLED': 409,
  'DEVICE.USER_ENROLLMENT': 422,
  'DEVICE.OS_TOO_OLD': 422,
  'DEVICE.RTS_UNSUPPORTED': 422,
  'DEVICE.OS_UNSUPPORTED': 422,
  'ESCROW.UNAVAILABLE': 503,
  'CYCLE.NOT_FOUND': 404,
  'CYCLE.ALREADY_ACTIVE': 409,
  'CYCLE.ENROLLMENT_PROFILE_UNAVAILABLE': 503,
  'CYCLE.NOT_ERASING': 409,
  'CYCLE.PROFILE_CHANGED': 409,
  'REQUEST.INVALID': 400,
};

/** The admin API's one mapping from errors to HTTP answers. */
@Catch()
export class AdminExceptionFilter implements ExceptionFilter {
  private readonly logger = createLogger('AdminApi');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof ProvisioningError) {
      response.status(STATUS[error.code]).json({ code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });

      return;
    }
    if (error instanceof UnauthorizedApiError) {
      response.status(401).json({ code: error.code, message: error.message });

      return;
    }
    if (error instanceof HttpException) {
      response.status(error.getStatus()).json({ code: 'API.HTTP', message: error.message });

      return;
    }
    this.logger.error({ err: error }, 'admin request failed');
    response.status(500).json({ code: 'INTERNAL', message: 'internal error; see the service log' });
  }
}
