import { Inject, Injectable } from '@nestjs/common';

import { ResolveIdentity } from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';
import { createLogger, errorCode } from '@turnaround/platform';
import type { TurnaroundConfig } from '@turnaround/platform';

import {
  CommandQueueRepository,
  IdentityBinding,
} from '../data-access/command-queue.repository.js';
import { COMMANDS_CONFIG } from './commands.config.js';
import {
  CheckinUnavailableError,
  NotEnrolledError,
  UnknownIdentityError,
} from './commands.errors.js';

/**
 * Which enrollment a signing certificate belongs to: the local projection first, then the
 * check-in service, whose answer is kept for the next request.
 */
@Injectable()
export class IdentityResolver {
  private readonly logger = createLogger('IdentityResolver');

  constructor(
    private readonly bus: MessageBus,
    @Inject(COMMANDS_CONFIG) private readonly config: TurnaroundConfig,
    private readonly repository: CommandQueueRepository,
  ) {}

  /** `claimedDevice` is the UDID or EnrollmentID the report names; it only labels the request. */
  async resolve(fingerprint: string, claimedDevice: string): Promise<IdentityBinding> {
    const known = await this.repository.findIdentity(fingerprint);
    if (known) {
      return known;
    }

    const answer = await this.ask(fingerprint, claimedDevice);
    if (!answer.found || !answer.udid) {
      throw new UnknownIdentityError();
    }
    if (!answer.enrollmentId) {
      throw new NotEnrolledError();
    }

    const binding = {
      fingerprint,
      udid: answer.udid,
      enrollmentId: answer.enrollmentId,
      userEnrollment: answer.userEnrollment ?? false,
    };
    await this.repository.rememberIdentity(binding);
    this.logger.info(
      { udid: binding.udid, enrollmentId: binding.enrollmentId, fingerprint },
      'identity resolved',
    );

    return binding;
  }

  private async ask(fingerprint: string, claimedDevice: string) {
    try {
      return await this.bus.request(
        ResolveIdentity,
        { certificateFingerprint: fingerprint },
        { subject: claimedDevice, timeoutMs: this.config.requestTimeoutMs },
      );
    } catch (error) {
      // A timeout or a missing responder keeps its own code (503); anything else the check-in
      // service sends back is still "cannot tell now", never the device's fault.
      if (errorCode(error).startsWith('BUS.')) {
        throw error;
      }
      throw new CheckinUnavailableError(error);
    }
  }
}
