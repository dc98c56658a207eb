import { timingSafeEqual } from 'node:crypto';

import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';

import { ProvisioningError } from '../domain/provisioning.errors.js';
import { PROVISIONING_SETTINGS } from './provisioning.settings.js';
import type { ProvisioningSettings } from './provisioning.settings.js';

export class UnauthorizedApiError extends Error {
  readonly code = 'API.UNAUTHORIZED';
}

/** Operators and other services present the API key as a bearer token or in X-API-Key. */
@Injectable()
export class AdminApiGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(PROVISIONING_SETTINGS) settings: ProvisioningSettings) {
    this.expected = Buffer.from(settings.apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    const header = request.headers.authorization;
    const presented = header?.startsWith('Bearer ') ? header.slice(7) : request.headers['x-api-key'];
    const candidate = Buffer.from(typeof presented === 'string' ? presented : '');
    if (candidate.length !== this.expected.length || !timingSafeEqual(candidate, this.expected)) {
      throw new UnauthorizedApiError('a valid API key is required (Authorization: Bearer <key>)');
    }

    return true;
  }
}

export { ProvisioningError };
