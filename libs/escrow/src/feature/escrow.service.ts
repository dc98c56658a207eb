import { Injectable } from '@nestjs/common';

import {
  BootstrapTokenCleared,
  BootstrapTokenEscrowed,
  DataOf,
  DescribeBootstrapToken,
  Envelope,
  EventContract,
  FetchBootstrapToken,
  ReplyOf,
  StoreBootstrapToken,
} from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';
import { createLogger, errorCode } from '@turnaround/platform';

import { EscrowRepository } from '../data-access/escrow.repository.js';
import { SecretSealer } from '../domain/secret-sealing.js';
import { decodeIncomingToken } from '../domain/version-rules.js';
import { accessOf, assertSubject, incomingSecret } from './escrow-access.js';
import { EscrowStatusService } from './escrow-status.service.js';

export type StoreRequest = DataOf<typeof StoreBootstrapToken>;
export type StoreReply = ReplyOf<typeof StoreBootstrapToken>;
export type FetchRequest = DataOf<typeof FetchBootstrapToken>;
export type FetchReply = ReplyOf<typeof FetchBootstrapToken>;
export type DescribeRequest = DataOf<typeof DescribeBootstrapToken>;
export type DescribeReply = ReplyOf<typeof DescribeBootstrapToken>;

const KIND = 'bootstrap-token';

/** Answers SetBootstrapToken (forwarded by check-in), reads for RTS, and status questions. */
@Injectable()
export class EscrowService {
  private readonly logger = createLogger('EscrowService');

  constructor(
    private readonly bus: MessageBus,
    private readonly repository: EscrowRepository,
    private readonly sealer: SecretSealer,
    private readonly status: EscrowStatusService,
  ) {}

  /** The stored version and its event commit together (transactional outbox). */
  async store(envelope: Envelope<StoreRequest>): Promise<StoreReply> {
    return this.repository.unitOfWork(() => this.storeWithin(envelope));
  }

  private async storeWithin(envelope: Envelope<StoreRequest>): Promise<StoreReply> {
    const { udid, awaitingConfiguration } = envelope.data;
    assertSubject(this.logger, envelope, udid);
    // The device itself is the requester: check-in only forwards its SetBootstrapToken.
    const access = accessOf(envelope, 'device', 'SetBootstrapToken');
    const fields = { udid, awaitingConfiguration, messageId: envelope.id };
    const token = decodeIncomingToken(envelope.data.token);
    if (!token) {
      const outcome = await this.repository.clearToken(udid, access);
      if (!outcome.cleared) {
        this.logger.info({ ...fields, outcome: 'none-stored' }, 'bootstrap token cleared');

        return { stored: false };
      }
      this.logger.info(
        { ...fields, version: outcome.version, outcome: 'cleared' },
        'bootstrap token cleared',
      );
      await this.publish(envelope, BootstrapTokenCleared, {
        udid,
        clearedAt: outcome.clearedAt.toISOString(),
      });

      return { stored: false };
    }

    try {
      const outcome = await this.repository.escrow(
        KIND,
        udid,
        incomingSecret(this.sealer, this.logger, KIND, udid, token),
        access,
      );
      if (!outcome.changed) {
        this.logger.info(
          { ...fields, version: outcome.version, outcome: 'unchanged' },
          'bootstrap token stored',
        );

        return { stored: true, version: outcome.version };
      }
      this.logger.info(
        { ...fields, version: outcome.version, retired: outcome.retired, outcome: 'escrowed' },
        'bootstrap token stored',
      );
      await this.publish(envelope, BootstrapTokenEscrowed, {
        udid,
        version: outcome.version,
        escrowedAt: outcome.escrowedAt.toISOString(),
      });

      return { stored: true, version: outcome.version };
    } finally {
      token.fill(0);
    }
  }

  /** B10: nothing escrowed is an empty reply, never an error. */
  async fetch(envelope: Envelope<FetchRequest>): Promise<FetchReply> {
    const { udid, requestedBy, reason } = envelope.data;
    assertSubject(this.logger, envelope, udid);
    const fields = { udid, requestedBy, reason, messageId: envelope.id };
    const found = await this.repository.fetch(KIND, udid, accessOf(envelope, requestedBy, reason));
    if (!found) {
      this.logger.info({ ...fields, found: false }, 'bootstrap token fetched');

      return {};
    }

    let clear: Buffer;
    try {
      clear = this.sealer.open({ kind: KIND, udid, version: found.version }, found.sealed);
    } catch (error) {
      this.logger.error(
        { ...fields, version: found.version, code: errorCode(error) },
        'bootstrap token fetch failed',
      );
      throw error;
    }
    const token = clear.toString('base64');
    clear.fill(0);
    this.logger.info({ ...fields, version: found.version, found: true }, 'bootstrap token fetched');

    return { token };
  }

  /** Status only (present, version, when): no value is read, so no read is audited. */
  async describe(envelope: Envelope<DescribeRequest>): Promise<DescribeReply> {
    const { udid } = envelope.data;
    assertSubject(this.logger, envelope, udid);
    const status = await this.status.status(udid);
    this.logger.info(
      { udid, present: status.present, version: status.version, messageId: envelope.id },
      'bootstrap token described',
    );

    return status;
  }

  private async publish<T>(cause: Envelope, contract: EventContract<T>, data: T): Promise<void> {
    await this.bus.publish(contract, data, {
      subject: cause.subject,
      correlationId: cause.correlationid,
      causationId: cause.id,
    });
  }
}
