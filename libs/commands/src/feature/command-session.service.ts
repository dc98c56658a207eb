import { Injectable } from '@nestjs/common';

import { decodePlist, encodeCommand, isPlistDict, parseReport } from '@turnaround/protocol';
import type { CommandReport } from '@turnaround/protocol';
import { createLogger, DeviceReply } from '@turnaround/platform';

import {
  CommandQueueRepository,
  DeliveredCommand,
  IdentityBinding,
  ReportOutcome,
} from '../data-access/command-queue.repository.js';
import { errorsFromChain } from '../domain/result-summary.js';
import { CommandEventPublisher } from './command-events.service.js';
import { DeviceMismatchError } from './commands.errors.js';
import { DeviceSignatureService } from './device-signature.service.js';
import { IdentityResolver } from './identity-resolver.service.js';
import { factsOf } from './result-facts.js';

/** A zero-byte 200: Apple's "nothing more to do"; an empty plist would not mean the same. */
const NOTHING: DeviceReply = { status: 200 };

const USABLE_COMMAND_UUID = /^[\x21-\x7e]{1,64}$/;

/**
 * One request on the command URL: check who signed it, apply its result in one transaction,
 * publish what changed, and answer with the next command or nothing.
 */
@Injectable()
export class CommandSessionService {
  private readonly logger = createLogger('CommandSessionService');

  constructor(
    private readonly events: CommandEventPublisher,
    private readonly identities: IdentityResolver,
    private readonly repository: CommandQueueRepository,
    private readonly signatures: DeviceSignatureService,
  ) {}

  async handle(body: Buffer, signature: string | undefined): Promise<DeviceReply> {
    const signer = this.signatures.verify(signature, body);
    const report = parseReport(body);
    const claimed = report.udid ?? report.enrollmentId ?? '';
    const identity = await this.identities.resolve(signer.fingerprint, claimed);
    if (claimed !== identity.udid) {
      throw new DeviceMismatchError();
    }

    // Our CommandUUIDs are short and printable: anything else cannot name one of them, so it is
    // treated as naming none (B17), never handed to the database.
    const commandUuid = report.commandUuid !== undefined && USABLE_COMMAND_UUID.test(report.commandUuid) ? report.commandUuid : undefined;
    const fields = {
      udid: identity.udid,
      enrollmentId: identity.enrollmentId,
      commandUuid: commandUuid ?? report.commandUuid?.slice(0, 80),
      status: report.status,
    };
    if (report.userId || report.userShortName || report.enrollmentUserId) {
      // Nothing is queued for user channels yet; an empty answer ends their session cleanly.
      this.logger.debug({ ...fields, channel: 'user' }, 'report answered');

      return NOTHING;
    }

    const outcome = await this.repository.report({
      udid: identity.udid,
      enrollmentId: identity.enrollmentId,
      status: report.status,
      commandUuid,
    });
    await this.announceResult(report, outcome, identity);
    const reply = outcome.next ? await this.deliver(outcome.next, report.status) : NOTHING;
    this.logger.debug(
      {
        ...fields,
        sessionId: outcome.sessionId,
        nextCommandUuid: outcome.next?.commandUuid,
        nextRequestType: outcome.next?.requestType,
      },
      'report answered',
    );

    return reply;
  }

  private async announceResult(
    report: CommandReport,
    outcome: ReportOutcome,
    identity: IdentityBinding,
  ): Promise<void> {
    const { decision, changed } = outcome;
    const fields = {
      udid: identity.udid,
      enrollmentId: identity.enrollmentId,
      commandUuid: report.commandUuid,
      status: report.status,
    };
    if (decision.kind === 'idle') {
      if (decision.strayCommandUuid) {
        this.logger.info(fields, 'idle report names a command, ignored');
      }
      if (outcome.sessionStarted) {
        this.logger.debug({ ...fields, sessionId: outcome.sessionId }, 'command session started');
      }

      return;
    }
    if (decision.kind === 'ignore') {
      // B17: a report for a command we do not have (cleared, finished, another enrollment's)
      // is normal after re-enrollment or a lost answer; it must never fail the request.
      const repeated =
        decision.reason === 'already-finished' || decision.reason === 'repeated-not-now';
      this.logger[repeated ? 'info' : 'warn'](
        { ...fields, reason: decision.reason },
        'report ignored',
      );

      return;
    }
    if (!changed) {
      return;
    }

    const commandFields = { ...fields, requestType: changed.requestType };
    if (decision.kind === 'not-now') {
      this.logger.info({ ...commandFields, sessionId: outcome.sessionId }, 'command not now');
      await this.events.notNow(changed);

      return;
    }
    if (decision.state === 'acknowledged') {
      const { facts, unreadable } = factsOf(changed.requestType, report.payload);
      this.logger.info({ ...commandFields, facts: facts !== undefined }, 'command acknowledged');
      const problems = [...report.problems.map((problem) => problem.key), ...unreadable];
      if (problems.length > 0) {
        this.logger.warn({ ...commandFields, fields: problems }, 'result partly unreadable');
      }
      await this.events.acknowledged(changed, facts);

      return;
    }
    const errors = errorsFromChain(report.errorChain?.map((item) => item.raw));
    this.logger.info({ ...commandFields, errors: errors.length }, 'command failed');
    await this.events.failed(
      changed,
      decision.state === 'error' ? 'Error' : 'CommandFormatError',
      errors,
    );
  }

  private async deliver(command: DeliveredCommand, status: string): Promise<DeviceReply> {
    const dict = decodePlist(Buffer.from(command.body, 'base64'));
    if (!isPlistDict(dict)) {
      // The consumer refuses such bodies; reaching this means the row was changed by hand.
      throw new Error(`stored command ${command.commandUuid} is not a dictionary`);
    }

    const body = encodeCommand(command.commandUuid, dict);
    this.logger.info(
      {
        udid: command.udid,
        enrollmentId: command.enrollmentId,
        commandUuid: command.commandUuid,
        status,
        requestType: command.requestType,
        deliveries: command.deliveries,
      },
      'command delivered',
    );
    await this.events.delivered(command);

    return { status: 200, body, contentType: 'application/xml' };
  }
}
