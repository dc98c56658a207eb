import { Inject, Injectable } from '@nestjs/common';

import { FetchBootstrapToken, StoreActivationLockBypassCode } from '@turnaround/contracts';
import { MessageBus, RemoteRequestError } from '@turnaround/messaging';
import { createLogger, errorCode } from '@turnaround/platform';
import type { TurnaroundConfig } from '@turnaround/platform';

import { CommandRef } from '../data-access/command-queue.repository.js';
import { COMMANDS_CONFIG } from './commands.config.js';
import { EscrowUnavailableError } from './commands.errors.js';

/** Long enough for escrow to come back from a restart, short enough not to stall a cycle. */
const RETRY_AFTER_SECONDS = 30;

/**
 * The commands service's two questions to escrow. Secrets pass through here and nowhere else:
 * nothing logged or thrown from this class carries a token or a code, nor escrow's own messages.
 */
@Injectable()
export class EscrowClient {
  private readonly logger = createLogger('EscrowClient');

  constructor(
    private readonly bus: MessageBus,
    @Inject(COMMANDS_CONFIG) private readonly config: TurnaroundConfig,
  ) {}

  /**
   * The device's bootstrap token as bytes (the caller zeroes them after use), or null when escrow
   * holds none. Throws {@link EscrowUnavailableError} when escrow cannot tell.
   */
  async fetchBootstrapToken(command: CommandRef, reason: string): Promise<Buffer | null> {
    let reply;
    try {
      reply = await this.bus.request(
        FetchBootstrapToken,
        { udid: command.udid, reason, requestedBy: 'commands' },
        {
          subject: command.udid,
          timeoutMs: this.config.requestTimeoutMs,
          causationId: command.commandUuid,
          ...(command.correlationId ? { correlationId: command.correlationId } : {}),
        },
      );
    } catch (error) {
      const code = errorCode(error);
      if (error instanceof RemoteRequestError && code.startsWith('ESCROW.')) {
        // Escrow answered, and its stored token cannot be used (its key left the ring, its seal
        // is broken): that will not change by waiting, and holding the erase back would block
        // the device's whole queue. The erase goes without it; provisioning learns apps are lost.
        this.logger.warn(
          { ...idsOf(command), errorCode: code },
          'bootstrap token unusable, erase sent without it',
        );

        return null;
      }
      this.logger.warn(
        { ...idsOf(command), errorCode: code, retryAfterSeconds: RETRY_AFTER_SECONDS },
        'bootstrap token unavailable, erase held back',
      );
      throw new EscrowUnavailableError(RETRY_AFTER_SECONDS, code);
    }
    if (!reply.token) {
      return null;
    }
    const token = Buffer.from(reply.token, 'base64');

    // An empty token is no token: the device must never get an empty <data/> in its place.
    return token.length > 0 ? token : null;
  }

  /** Hands a bypass code to escrow; false when it was not stored. Never throws. */
  async storeBypassCode(command: CommandRef, code: string): Promise<boolean> {
    try {
      const reply = await this.bus.request(
        StoreActivationLockBypassCode,
        { udid: command.udid, code },
        {
          subject: command.udid,
          timeoutMs: this.config.requestTimeoutMs,
          causationId: command.commandUuid,
          ...(command.correlationId ? { correlationId: command.correlationId } : {}),
        },
      );
      if (!reply.stored) {
        this.logger.warn(idsOf(command), 'bypass code not stored by escrow');
      }

      return reply.stored;
    } catch (error) {
      this.logger.warn(
        { ...idsOf(command), errorCode: errorCode(error) },
        'bypass code not escrowed, escrow unavailable',
      );

      return false;
    }
  }
}

function idsOf(command: CommandRef) {
  return {
    udid: command.udid,
    enrollmentId: command.enrollmentId,
    commandUuid: command.commandUuid,
    requestType: command.requestType,
  };
}
