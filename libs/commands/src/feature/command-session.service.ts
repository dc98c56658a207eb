import { Injectable } from '@nestjs/common';

import { decodePlist, encodeCommand, isPlistDict, parseReport } from '@turnaround/protocol';
import type { CommandReport, PlistDict } from '@turnaround/protocol';
import type { DeviceProof } from '@turnaround/identity';
import { annotateLogContext, createLogger, DeviceReply } from '@turnaround/platform';

import {
  CommandQueueRepository,
  CommandRef,
  DeliveredCommand,
  IdentityBinding,
  ReportOutcome,
} from '../data-access/command-queue.repository.js';
import { refOf } from '../data-access/command-rows.js';
import { errorsFromChain } from '../domain/result-summary.js';
import { CommandEventPublisher } from './command-events.service.js';
import { DeviceMismatchError } from './commands.errors.js';
import { DeviceSignatureService } from './device-signature.service.js';
import { EscrowClient } from './escrow-client.service.js';
import { IdentityResolver } from './identity-resolver.service.js';
import { ProvisioningClient, ReturnToServiceProfiles } from './provisioning-client.service.js';
import { BYPASS_CODE_REQUEST, bypassCodeOf, factsOf, withBypassCodeFacts } from './result-facts.js';

/** What the command URL answers; `secret` bodies are zeroed once they were sent. */
export interface CommandReply extends DeviceReply {
  secret?: boolean;
}

/** A zero-byte 200: Apple's "nothing more to do"; an empty plist would not mean the same. */
const NOTHING: CommandReply = { status: 200 };

const USABLE_COMMAND_UUID = /^[\x21-\x7e]{1,64}$/;

const ERASE_NOT_WANTED = 'its Return to Service cycle no longer waits for the erase';

/**
 * One request on the command URL: check who signed it, apply its result in one transaction,
 * publish what changed, and answer with the next command or nothing.
 */
@Injectable()
export class CommandSessionService {
  private readonly logger = createLogger('CommandSessionService');

  constructor(
    private readonly escrow: EscrowClient,
    private readonly events: CommandEventPublisher,
    private readonly identities: IdentityResolver,
    private readonly provisioning: ProvisioningClient,
    private readonly repository: CommandQueueRepository,
    private readonly signatures: DeviceSignatureService,
  ) {}

  async handle(body: Buffer, proof: DeviceProof): Promise<CommandReply> {
    const signer = this.signatures.verify(proof, body);
    const report = parseReport(body);
    annotateLogContext({ udid: report.udid ?? report.enrollmentId, messageType: report.status });
    const claimed = report.udid ?? report.enrollmentId ?? '';
    const userChannel = Boolean(report.userId || report.userShortName || report.enrollmentUserId);
    // Most requests are Idles with nothing queued: those are answered from one read, without a
    // transaction, a write or an event.
    const idle =
      report.status === 'Idle' && !userChannel
        ? await this.repository.lookUpIdle(signer.fingerprint)
        : null;
    if (idle?.quiet && idle.binding.udid === claimed) {
      const fields = { udid: claimed, enrollmentId: idle.binding.enrollmentId, status: report.status };
      if (report.commandUuid !== undefined) {
        this.logger.info(
          { ...fields, commandUuid: report.commandUuid.slice(0, 80) },
          'idle report names a command, ignored',
        );
      }
      this.logger.debug(fields, 'report answered');

      return NOTHING;
    }
    const identity = idle?.binding ?? (await this.identities.resolve(signer.fingerprint, claimed));
    if (claimed !== identity.udid) {
      throw new DeviceMismatchError();
    }

    // Our CommandUUIDs are short and printable: anything else cannot name one of them, so it is
    // treated as naming none (B17), never handed to the database.
    const commandUuid =
      report.commandUuid !== undefined && USABLE_COMMAND_UUID.test(report.commandUuid)
        ? report.commandUuid
        : undefined;
    const fields = {
      udid: identity.udid,
      enrollmentId: identity.enrollmentId,
      commandUuid: commandUuid ?? report.commandUuid?.slice(0, 80),
      status: report.status,
    };
    if (userChannel) {
      // Nothing is queued for user channels yet; an empty answer ends their session cleanly.
      this.logger.debug({ ...fields, channel: 'user' }, 'report answered');

      return NOTHING;
    }

    // Escrow is asked before the transaction opens: a transaction held across a request to another
    // service would hold up every other request of this process on SQLite.
    const bypassCodeEscrowed = await this.escrowBypassCodeOf(report, identity, commandUuid);

    // The report, the next command's delivery and the events they cause commit together
    // (transactional outbox). A command with secrets fetched at delivery (an erase's, an
    // InstallProfile's profile) is the exception: its delivery is recorded after escrow and
    // provisioning answered, in a unit of its own.
    const { outcome, reply: plainReply } = await this.repository.unitOfWork(async () => {
      const reported = await this.repository.report({
        udid: identity.udid,
        enrollmentId: identity.enrollmentId,
        status: report.status,
        commandUuid,
      });
      await this.announceResult(report, reported, identity, commandUuid, bypassCodeEscrowed);
      for (const refused of reported.refused) {
        this.logger.info(
          {
            udid: refused.udid,
            enrollmentId: refused.enrollmentId,
            commandUuid: refused.commandUuid,
            requestType: refused.requestType,
            reason: refused.reason,
          },
          'command refused',
        );
        await this.events.refused(refused);
      }
      const next = reported.next;

      return { outcome: reported, reply: next && !next.held ? await this.deliver(next, report.status) : undefined };
    });
    const reply = plainReply ?? (outcome.next ? await this.deliver(outcome.next, report.status) : NOTHING);
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
    commandUuid: string | undefined,
    bypassCodeEscrowed: boolean | undefined,
  ): Promise<void> {
    const { decision, changed } = outcome;
    const fields = {
      udid: identity.udid,
      enrollmentId: identity.enrollmentId,
      commandUuid: commandUuid ?? report.commandUuid?.slice(0, 80),
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
      // Escrowed before the transaction, or not at all: either way the code goes no further.
      delete report.payload[BYPASS_CODE_REQUEST];
      const read = factsOf(changed.requestType, report.payload);
      if (changed.requestType === BYPASS_CODE_REQUEST && bypassCodeEscrowed === undefined) {
        this.logger.warn(commandFields, 'bypass code result holds no code');
      }
      const facts =
        changed.requestType === BYPASS_CODE_REQUEST
          ? withBypassCodeFacts(read.facts, bypassCodeEscrowed ?? false)
          : read.facts;
      this.logger.info({ ...commandFields, facts: facts !== undefined }, 'command acknowledged');
      const problems = [...report.problems.map((problem) => problem.key), ...read.unreadable];
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

  /**
   * For the acknowledged result of a pending ActivationLockBypassCode: whether escrow now holds
   * its code. Undefined for any other report.
   */
  private async escrowBypassCodeOf(
    report: CommandReport,
    identity: IdentityBinding,
    commandUuid: string | undefined,
  ): Promise<boolean | undefined> {
    // Only a result that carries the key can hold a code: every other report skips the lookup. A
    // bypass code result without it is told apart in announceResult.
    if (
      report.status !== 'Acknowledged' ||
      commandUuid === undefined ||
      !Object.hasOwn(report.payload, BYPASS_CODE_REQUEST)
    ) {
      return undefined;
    }
    const command = await this.repository.findPending(identity.enrollmentId, commandUuid);
    if (command?.requestType !== BYPASS_CODE_REQUEST) {
      return undefined;
    }

    return this.escrowBypassCode(command, report.payload);
  }

  /**
   * Hands the code of an ActivationLockBypassCode result to escrow; whether it is stored there is
   * all anyone else learns. The device's request never fails for it: escrow being down only
   * means provisioning sees `bypassCodeEscrowed: false`.
   */
  private async escrowBypassCode(command: CommandRef, payload: PlistDict): Promise<boolean> {
    const code = bypassCodeOf(payload);
    // Out of the payload at once, so no later step (a log line, an extractor) can pick it up.
    delete payload[BYPASS_CODE_REQUEST];
    if (code === undefined) {
      this.logger.warn(
        {
          udid: command.udid,
          enrollmentId: command.enrollmentId,
          commandUuid: command.commandUuid,
        },
        'bypass code result holds no code',
      );

      return false;
    }

    return this.escrow.storeBypassCode(command, code);
  }

  private async deliver(command: DeliveredCommand, status: string): Promise<CommandReply> {
    const fields = {
      udid: command.udid,
      enrollmentId: command.enrollmentId,
      commandUuid: command.commandUuid,
      status,
      requestType: command.requestType,
      deliveries: command.deliveries,
    };
    const held = command.held;
    if (!held) {
      const body = encodeCommand(command.commandUuid, storedDict(command));
      this.logger.info(fields, 'command delivered');
      await this.events.delivered(command);

      return { status: 200, body, contentType: 'application/xml' };
    }

    // Each fetch throws while its service cannot answer: the command is not recorded as
    // delivered and waits for the device's next request, rather than going out without the token
    // (wiping the apps), without its Wi-Fi profile (stranding the device offline) or without the
    // profile it exists to install.
    let token: Buffer | null = null;
    let profiles: ReturnToServiceProfiles | null = null;
    let profile: Buffer | null = null;
    let body: Buffer;
    try {
      if (held.bootstrapTokenReason !== undefined) {
        token = await this.escrow.fetchBootstrapToken(command, held.bootstrapTokenReason);
      }
      if (held.returnToServiceProfilesCycleId !== undefined) {
        profiles = await this.provisioning.renderReturnToServiceProfiles(
          command,
          held.returnToServiceProfilesCycleId,
        );
        if (!profiles) {
          return await this.refuseHeld(command, fields, ERASE_NOT_WANTED);
        }
      }
      if (held.profile !== undefined) {
        const rendered = await this.provisioning.renderProfile(command, held.profile);
        if ('refused' in rendered) {
          return await this.refuseHeld(command, fields, rendered.refused);
        }
        profile = rendered.payload;
      }
      let dict = storedDict(command);
      if (held.bootstrapTokenReason !== undefined || profiles) {
        dict = withReturnToServiceSecrets(dict, token, profiles ?? {});
      }
      if (profile) {
        // As buildInstallProfile writes it: the raw profile bytes as <data>.
        dict = { ...dict, Payload: profile };
      }
      body = encodeCommand(command.commandUuid, dict);
    } finally {
      token?.fill(0);
      profiles?.wifiProfileData?.fill(0);
      profiles?.mdmProfileData?.fill(0);
      profile?.fill(0);
    }
    const tokenAsked = held.bootstrapTokenReason !== undefined;
    const included = token !== null;
    const recorded = await this.repository.unitOfWork(async () => {
      if (!(await this.repository.recordDelivery(command))) {
        return false;
      }
      await this.events.delivered(command, tokenAsked ? included : undefined);

      return true;
    });
    if (!recorded) {
      body.fill(0);
      this.logger.warn(fields, 'command changed while its secrets were fetched, not delivered');

      return NOTHING;
    }
    if (tokenAsked && !included) {
      this.logger.warn(
        { ...fields, reason: held.bootstrapTokenReason },
        'no bootstrap token escrowed, erase delivered without it: apps will not be preserved',
      );
    }
    this.logger.info(
      {
        ...fields,
        ...(tokenAsked ? { bootstrapTokenIncluded: included } : {}),
        ...(profiles ? { returnToServiceProfilesIncluded: true } : {}),
        ...(profile ? { profileIncluded: true } : {}),
      },
      'command delivered',
    );

    return { status: 200, body, contentType: 'application/xml', secret: true };
  }

  /**
   * What a held command waited for will never come: an erase whose RTS cycle is over (sent now it
   * would erase a device nobody provisions), an InstallProfile whose profile changed.
   */
  private async refuseHeld(
    command: DeliveredCommand,
    fields: Record<string, unknown>,
    reason: string,
  ): Promise<CommandReply> {
    const refused = await this.repository.unitOfWork(async () => {
      if (!(await this.repository.refuseHeld(command))) {
        return false;
      }
      await this.events.refused({ ...refOf(command), reason });

      return true;
    });
    if (refused) {
      this.logger.info({ ...fields, reason }, 'command refused');
    }

    return NOTHING;
  }
}

function storedDict(command: DeliveredCommand): PlistDict {
  const dict = decodePlist(Buffer.from(command.body, 'base64'));
  if (!isPlistDict(dict)) {
    // The consumer refuses such bodies; reaching this means the row was changed by hand.
    throw new Error(`stored command ${command.commandUuid} is not a dictionary`);
  }

  return dict;
}

// B08: the token goes in as <data> holding exactly the bytes escrow returned; without one the
// key is left out, which the device takes as a plain (non-preserving) Return to Service. The
// profiles go in as <data> of the raw profile bytes too, as buildEraseDevice wrote them before.
function withReturnToServiceSecrets(
  dict: PlistDict,
  token: Buffer | null,
  profiles: ReturnToServiceProfiles,
): PlistDict {
  const returnToService = dict['ReturnToService'];
  if (!isPlistDict(returnToService)) {
    // The consumer refuses such erases; reaching this means the row was changed by hand.
    throw new Error('stored erase has no ReturnToService dictionary');
  }

  return {
    ...dict,
    ReturnToService: {
      ...returnToService,
      ...(profiles.wifiProfileData ? { WiFiProfileData: profiles.wifiProfileData } : {}),
      ...(profiles.mdmProfileData ? { MDMProfileData: profiles.mdmProfileData } : {}),
      ...(token ? { BootstrapToken: token } : {}),
    },
  };
}

