import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';

import {
  ContractViolation,
  DeviceCheckedOut,
  DeviceEnrolled,
  EnqueueCommands,
  PrioritizeCommand,
} from '@turnaround/contracts';
import type { DataOf, Envelope } from '@turnaround/contracts';
import { OnEvent } from '@turnaround/messaging';
import { createLogger } from '@turnaround/platform';
import { decodePlist, isPlistDict } from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';

import { CommandQueueRepository } from '../data-access/command-queue.repository.js';
import { CommandEventPublisher } from './command-events.service.js';

/**
 * The queue's inputs from other services. Every handler is idempotent: a redelivered message
 * finds its change already made and changes nothing.
 */
@Controller()
export class QueueEventsConsumer {
  private readonly logger = createLogger('QueueEventsConsumer');

  constructor(
    private readonly events: CommandEventPublisher,
    private readonly repository: CommandQueueRepository,
  ) {}

  @OnEvent(EnqueueCommands, 'commands')
  async onEnqueue(@Payload() envelope: Envelope<DataOf<typeof EnqueueCommands>>): Promise<void> {
    const { udid, enrollmentId, placement, commands } = envelope.data;
    commands.forEach((command, index) => requireCommandDict(command, index));

    const outcome = await this.repository.enqueue({
      udid,
      enrollmentId,
      placement,
      commands: commands.map((command) => ({
        commandUuid: command.commandUuid,
        requestType: command.requestType,
        body: command.command,
        ...(command.attachBootstrapToken
          ? { bootstrapTokenReason: command.attachBootstrapToken.reason }
          : {}),
        ...(command.attachReturnToServiceProfiles
          ? { returnToServiceProfilesCycleId: command.attachReturnToServiceProfiles.cycleId }
          : {}),
        ...(command.attachProfile
          ? {
              profile: { cycleId: command.attachProfile.cycleId, ...command.attachProfile.profile },
            }
          : {}),
        whileAwaitingConfiguration: command.whileAwaitingConfiguration ?? false,
      })),
      ...(envelope.correlationid ? { correlationId: envelope.correlationid } : {}),
    });

    const fields = { udid, enrollmentId, placement, messageId: envelope.id };
    if (outcome.queued.length > 0) {
      this.logger.info({ ...fields, commandUuids: outcome.queued }, 'commands queued');
    }
    if (outcome.ignored.length > 0) {
      this.logger.info({ ...fields, commandUuids: outcome.ignored }, 'known commands ignored');
    }
    for (const refused of outcome.refused) {
      this.logger.info(
        {
          ...fields,
          commandUuid: refused.commandUuid,
          requestType: refused.requestType,
          reason: refused.reason,
        },
        'command refused',
      );
      await this.events.refused(refused);
    }
    if (outcome.superseded.length > 0) {
      // The enrollment was already replaced by a fresh one: nothing queued for it may run (B05).
      this.logger.info({ ...fields, commandUuids: outcome.superseded }, 'commands superseded');
      await this.events.superseded(
        { udid, enrollmentId, commandUuids: outcome.superseded },
        envelope.id,
      );
    }
  }

  @OnEvent(PrioritizeCommand, 'commands')
  async onPrioritize(
    @Payload() envelope: Envelope<DataOf<typeof PrioritizeCommand>>,
  ): Promise<void> {
    const { udid, enrollmentId, commandUuid } = envelope.data;
    const moved = await this.repository.prioritize(enrollmentId, udid, commandUuid);
    this.logger.info(
      { udid, enrollmentId, commandUuid, moved, messageId: envelope.id },
      moved ? 'command prioritized' : 'prioritize changed nothing',
    );
  }

  @OnEvent(DeviceCheckedOut, 'commands')
  async onCheckedOut(
    @Payload() envelope: Envelope<DataOf<typeof DeviceCheckedOut>>,
  ): Promise<void> {
    const { udid, enrollmentId } = envelope.data;
    const closed = await this.repository.checkOut(udid, enrollmentId);
    this.logger.info(
      { udid, enrollmentId, commandUuids: closed?.commandUuids ?? [], messageId: envelope.id },
      'enrollment checked out',
    );
    if (closed) {
      await this.events.superseded(closed, envelope.id);
    }
  }

  @OnEvent(DeviceEnrolled, 'commands')
  async onDeviceEnrolled(
    @Payload() envelope: Envelope<DataOf<typeof DeviceEnrolled>>,
  ): Promise<void> {
    const {
      udid,
      enrollmentId,
      fresh,
      userEnrollment,
      certificateFingerprint,
      previousEnrollmentId,
    } = envelope.data;
    const groups = await this.repository.recordEnrollment({
      fingerprint: certificateFingerprint,
      udid,
      enrollmentId,
      userEnrollment,
      fresh,
      ...(previousEnrollmentId ? { previousEnrollmentId } : {}),
    });
    this.logger.debug({ udid, enrollmentId, fresh, messageId: envelope.id }, 'enrollment recorded');
    for (const group of groups) {
      this.logger.info(
        {
          udid,
          enrollmentId: group.enrollmentId,
          commandUuids: group.commandUuids,
          freshEnrollmentId: enrollmentId,
        },
        'commands superseded',
      );
      await this.events.superseded(group, envelope.id);
    }
  }
}

type QueuedCommand = DataOf<typeof EnqueueCommands>['commands'][number];

// Provisioning's keyed SHA-256 (HMAC), opaque here: only its shape can be checked.
const DIGEST_HEX = /^[0-9a-f]{64}$/;

// A body that is not a Command dictionary could never be delivered; refusing it here
// dead-letters the message instead of failing a device's request later.
function requireCommandDict(command: QueuedCommand, index: number): void {
  const path = `data.commands[${index}]`;
  let dict;
  try {
    dict = decodePlist(Buffer.from(command.command, 'base64'));
  } catch {
    throw new ContractViolation(`${path}.command`, 'XML plist of a Command dictionary');
  }
  if (!isPlistDict(dict) || typeof dict['RequestType'] !== 'string') {
    throw new ContractViolation(`${path}.command`, 'Command dictionary with a RequestType');
  }
  // The queue's rules (erase once, DeviceConfigured once) go by requestType: it must not lie.
  if (dict['RequestType'] !== command.requestType) {
    throw new ContractViolation(`${path}.requestType`, 'the RequestType of the command');
  }

  const returnToService = dict['ReturnToService'];
  // Issue #3: a queued row never holds a bootstrap token; it is fetched when the erase goes out.
  if (isPlistDict(returnToService) && 'BootstrapToken' in returnToService) {
    throw new ContractViolation(
      `${path}.command`,
      'ReturnToService without BootstrapToken (ask for it with attachBootstrapToken)',
    );
  }
  // Issue #4: nor the Wi-Fi profile (the network's password) or the enrollment profile (an
  // identity); provisioning renders them when the erase goes out.
  for (const key of ['WiFiProfileData', 'MDMProfileData']) {
    if (isPlistDict(returnToService) && key in returnToService) {
      throw new ContractViolation(
        `${path}.command`,
        `ReturnToService without ${key} (ask for it with attachReturnToServiceProfiles)`,
      );
    }
  }
  const enabledErase =
    dict['RequestType'] === 'EraseDevice' &&
    isPlistDict(returnToService) &&
    returnToService['Enabled'] === true;
  for (const attachment of ['attachBootstrapToken', 'attachReturnToServiceProfiles'] as const) {
    if (command[attachment] && !enabledErase) {
      throw new ContractViolation(
        `${path}.${attachment}`,
        'only on an EraseDevice whose ReturnToService is Enabled',
      );
    }
  }
  requireProfileSource(command, dict, path);
}

// Issue #4: an InstallProfile has its profile in Payload or names it with attachProfile, never
// both (the row would hold the bytes the reference exists to keep out) and never neither (the
// device could only answer it with an error).
function requireProfileSource(command: QueuedCommand, dict: PlistDict, path: string): void {
  const attachment = command.attachProfile;
  if (dict['RequestType'] !== 'InstallProfile') {
    if (attachment) {
      throw new ContractViolation(`${path}.attachProfile`, 'only on an InstallProfile');
    }

    return;
  }
  const payload = 'Payload' in dict;
  if (payload && attachment) {
    throw new ContractViolation(
      `${path}.command`,
      'InstallProfile without Payload when attachProfile names its profile',
    );
  }
  if (!payload && !attachment) {
    throw new ContractViolation(
      `${path}.command`,
      'InstallProfile with a Payload, or attachProfile naming its profile',
    );
  }
  if (!attachment) {
    return;
  }
  const { source, name, digest } = attachment.profile;
  if ((source === 'plan') !== (name !== undefined)) {
    throw new ContractViolation(
      `${path}.attachProfile.profile.name`,
      'the name of a plan profile, and none for the standing Wi-Fi profile',
    );
  }
  if (!DIGEST_HEX.test(digest)) {
    throw new ContractViolation(`${path}.attachProfile.profile.digest`, '64 lowercase hex digits');
  }
}
