import { LoggerService } from '@nestjs/common';

import { createLogger } from '@turnaround/platform';

/** Routes Nest's own messages into our structured log instead of its console format. */
export class NestLogger implements LoggerService {
  private readonly logger = createLogger('Nest');

  log(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }

  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }

  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }

  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }

  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
