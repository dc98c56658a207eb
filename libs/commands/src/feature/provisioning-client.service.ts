import { Inject, Injectable } from '@nestjs/common';

import { RenderReturnToServiceProfiles } from '@turnaround/contracts';
import { MessageBus, RemoteRequestError } from '@turnaround/messaging';
import { createLogger, errorCode } from '@turnaround/platform';
import type { TurnaroundConfig } from '@turnaround/platform';

import { CommandRef } from '../data-access/command-queue.repository.js';
import { COMMANDS_CONFIG } from './commands.config.js';
import { ProvisioningUnavailableError } from './commands.errors.js';

/** As for escrow: long enough for provisioning to come back from a restart. */
const RETRY_AFTER_SECONDS = 30;

/** Provisioning's answer that the erase's cycle no longer waits for it: it never will again. */
const NOT_ERASING = 'CYCLE.NOT_ERASING';

/** The erase's profiles as bytes; the caller zeroes them after use. */
export interface ReturnToServiceProfiles {
  wifiProfileData?: Buffer;
  mdmProfileData?: Buffer;
}

/**
 * Asks provisioning for the Wi-Fi and enrollment profiles of an erase as it is delivered (issue
 * #4). Nothing logged or thrown from this class carries a profile, nor provisioning's messages.
 */
@Injectable()
export class ProvisioningClient {
  private readonly logger = createLogger('ProvisioningClient');

  constructor(
    private readonly bus: MessageBus,
    @Inject(COMMANDS_CONFIG) private readonly config: TurnaroundConfig,
  ) {}

  /**
   * The profiles of cycle `cycleId`, or null when provisioning says the cycle no longer waits for
   * its erase. Throws {@link ProvisioningUnavailableError} when provisioning cannot tell.
   */
  async renderReturnToServiceProfiles(
    command: CommandRef,
    cycleId: string,
  ): Promise<ReturnToServiceProfiles | null> {
    let reply;
    try {
      reply = await this.bus.request(
        RenderReturnToServiceProfiles,
        { udid: command.udid, cycleId },
        {
          subject: command.udid,
          timeoutMs: this.config.requestTimeoutMs,
          causationId: command.commandUuid,
          correlationId: cycleId,
        },
      );
    } catch (error) {
      const code = errorCode(error);
      if (error instanceof RemoteRequestError && code === NOT_ERASING) {
        this.logger.warn(
          { ...idsOf(command), cycleId, errorCode: code },
          'return to service cycle over, erase not sent',
        );

        return null;
      }
      this.logger.warn(
        { ...idsOf(command), cycleId, errorCode: code, retryAfterSeconds: RETRY_AFTER_SECONDS },
        'return to service profiles unavailable, erase held back',
      );
      throw new ProvisioningUnavailableError(RETRY_AFTER_SECONDS, code);
    }

    return {
      ...(reply.wifiProfileData ? { wifiProfileData: Buffer.from(reply.wifiProfileData, 'base64') } : {}),
      ...(reply.mdmProfileData ? { mdmProfileData: Buffer.from(reply.mdmProfileData, 'base64') } : {}),
    };
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
