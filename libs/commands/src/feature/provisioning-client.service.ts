import { Inject, Injectable } from '@nestjs/common';

import { RenderProfile, RenderReturnToServiceProfiles } from '@turnaround/contracts';
import type { RequestContract } from '@turnaround/contracts';
import { MessageBus, RemoteRequestError } from '@turnaround/messaging';
import { createLogger, errorCode } from '@turnaround/platform';
import type { TurnaroundConfig } from '@turnaround/platform';

import { CommandRef, ProfileAttachment } from '../data-access/command-queue.repository.js';
import { COMMANDS_CONFIG } from './commands.config.js';
import { ProvisioningUnavailableError } from './commands.errors.js';

/** As for escrow: long enough for provisioning to come back from a restart. */
const RETRY_AFTER_SECONDS = 30;

/** Provisioning's answer that the erase's cycle no longer waits for it: it never will again. */
const NOT_ERASING = 'CYCLE.NOT_ERASING';

/**
 * Provisioning's answers that an InstallProfile's profile will never be rendered, and the reason
 * the command is closed with. Provisioning's own message is not passed on: it is not ours.
 */
const PROFILE_REFUSALS: Readonly<Record<string, string>> = {
  'CYCLE.NOT_FOUND': 'its RTS cycle is not known for the device',
  'CYCLE.PROFILE_CHANGED': 'its profile changed in the RTS configuration after it was queued',
};

/** The erase's profiles as bytes; the caller zeroes them after use. */
export interface ReturnToServiceProfiles {
  wifiProfileData?: Buffer;
  mdmProfileData?: Buffer;
}

/**
 * An InstallProfile's profile as bytes (the caller zeroes them after use), or why the command must
 * never go out.
 */
export type RenderedProfile = { payload: Buffer } | { refused: string };

/**
 * Asks provisioning, as a command is delivered, for the profiles it never puts in an event: the
 * Wi-Fi and enrollment profiles of an erase, the profile of an InstallProfile (issue #4). Nothing
 * logged or thrown from this class carries a profile, nor provisioning's messages.
 */
@Injectable()
export class ProvisioningClient {
  private readonly logger = createLogger('ProvisioningClient');

  constructor(
    private readonly bus: MessageBus,
    @Inject(COMMANDS_CONFIG) private readonly config: TurnaroundConfig,
  ) {}

  /** A request about the delivery of `command`, in its RTS cycle's correlation. */
  private ask<Q, R>(
    contract: RequestContract<Q, R>,
    data: Q,
    command: CommandRef,
    cycleId: string,
  ): Promise<R> {
    return this.bus.request(contract, data, {
      subject: command.udid,
      timeoutMs: this.config.requestTimeoutMs,
      causationId: command.commandUuid,
      correlationId: cycleId,
    });
  }

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
      reply = await this.ask(
        RenderReturnToServiceProfiles,
        { udid: command.udid, cycleId },
        command,
        cycleId,
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
      ...(reply.wifiProfileData
        ? { wifiProfileData: Buffer.from(reply.wifiProfileData, 'base64') }
        : {}),
      ...(reply.mdmProfileData
        ? { mdmProfileData: Buffer.from(reply.mdmProfileData, 'base64') }
        : {}),
    };
  }

  /**
   * The profile `attachment` names, or the reason provisioning will never render it (its cycle is
   * unknown, or the profile changed since it was queued). Throws
   * {@link ProvisioningUnavailableError} when provisioning cannot tell.
   */
  async renderProfile(
    command: CommandRef,
    attachment: ProfileAttachment,
  ): Promise<RenderedProfile> {
    const { cycleId, ...profile } = attachment;
    let reply;
    try {
      reply = await this.ask(
        RenderProfile,
        { udid: command.udid, cycleId, profile },
        command,
        cycleId,
      );
    } catch (error) {
      const code = errorCode(error);
      const refused = error instanceof RemoteRequestError ? PROFILE_REFUSALS[code] : undefined;
      const fields = { ...idsOf(command), cycleId, profileSource: profile.source, errorCode: code };
      if (refused !== undefined) {
        this.logger.warn({ ...fields, reason: refused }, 'profile not rendered, command not sent');

        return { refused };
      }
      this.logger.warn(
        { ...fields, retryAfterSeconds: RETRY_AFTER_SECONDS },
        'profile unavailable, command held back',
      );
      throw new ProvisioningUnavailableError(RETRY_AFTER_SECONDS, code);
    }

    return { payload: Buffer.from(reply.payload, 'base64') };
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
