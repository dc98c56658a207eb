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

import {
  CommandRef,
  RefusedCommand,
  SupersededGroup,
} from '../data-access/command-queue.repository.js';
import { ReportedError } from '../domain/result-summary.js';

/**
 * Publishes what happened to commands. Callers publish inside the unit of work that made the
 * change, so the events are staged in the outbox with it; a failed write fails the whole unit.
 */
@Injectable()
export class CommandEventPublisher {
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

  private async publish<T>(
    contract: EventContract<T>,
    data: T,
    context: EnvelopeContext,
  ): Promise<void> {
    await this.bus.publish(contract, data, context);
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
