import { Injectable } from '@nestjs/common';

import {
  CommandAcknowledged,
  CommandDelivered,
  CommandFailed,
  CommandNotNow,
  CommandsSuperseded,
  EnvelopeContext,
  EventContract,
} from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';
import { createLogger } from '@turnaround/platform';

import {
  CommandRef,
  RefusedCommand,
  SupersededGroup,
} from '../data-access/command-queue.repository.js';
import { ReportedError } from '../domain/result-summary.js';

/**
 * Publishes what happened to commands, after the change is committed. A failed publish is logged
 * and swallowed: the state change stands and the device still gets its answer.
 */
@Injectable()
export class CommandEventPublisher {
  private readonly logger = createLogger('CommandEventPublisher');

  constructor(private readonly bus: MessageBus) {}

  /** `bootstrapTokenIncluded` only for an erase that asked for the token. */
  async delivered(command: CommandRef, bootstrapTokenIncluded?: boolean): Promise<void> {
    await this.publish(
      CommandDelivered,
      {
        ...refData(command),
        ...(bootstrapTokenIncluded === undefined ? {} : { bootstrapTokenIncluded }),
      },
      contextOf(command),
    );
  }

  async acknowledged(
    command: CommandRef,
    facts: Record<string, unknown> | undefined,
  ): Promise<void> {
    await this.publish(
      CommandAcknowledged,
      { ...refData(command), ...(facts ? { facts } : {}) },
      contextOf(command),
    );
  }

  async failed(
    command: CommandRef,
    status: 'Error' | 'CommandFormatError' | 'Refused',
    errors: ReportedError[],
  ): Promise<void> {
    await this.publish(CommandFailed, { ...refData(command), status, errors }, contextOf(command));
  }

  /** A command closed without being delivered, with the reason as its one error. */
  async refused(command: RefusedCommand): Promise<void> {
    await this.failed(command, 'Refused', [{ description: command.reason }]);
  }

  async notNow(command: CommandRef): Promise<void> {
    await this.publish(CommandNotNow, refData(command), contextOf(command));
  }

  async superseded(group: SupersededGroup, causationId?: string): Promise<void> {
    await this.publish(CommandsSuperseded, group, {
      subject: group.udid,
      ...(causationId ? { causationId } : {}),
    });
  }

  // TODO(#4): events are published after the transaction commits, so a crash in between loses
  // them; a transactional outbox written in the same transaction replaces this.
  private async publish<T>(
    contract: EventContract<T>,
    data: T,
    context: EnvelopeContext,
  ): Promise<void> {
    try {
      await this.bus.publish(contract, data, context);
    } catch (error) {
      this.logger.error(
        { type: contract.routingKey, udid: context.subject, err: error },
        'event not published',
      );
    }
  }
}

function refData(command: CommandRef) {
  return {
    udid: command.udid,
    enrollmentId: command.enrollmentId,
    commandUuid: command.commandUuid,
    requestType: command.requestType,
  };
}

// The command caused its own results; the workflow that queued it correlates them.
function contextOf(command: CommandRef): EnvelopeContext {
  return {
    subject: command.udid,
    causationId: command.commandUuid,
    ...(command.correlationId ? { correlationId: command.correlationId } : {}),
  };
}
