import { Injectable } from '@nestjs/common';

import {
  BootstrapTokenCleared,
  BootstrapTokenEscrowed,
  Envelope,
  EventContract,
  FetchBootstrapToken,
  RequestContract,
  StoreBootstrapToken,
} from '@turnaround/contracts';
import { MessageBus } from '@turnaround/messaging';
import { createLogger, errorCode } from '@turnaround/platform';

import { AccessRecord, EscrowRepository } from '../data-access/escrow.repository.js';
import { SubjectMismatchError } from '../domain/escrow.errors.js';
import { TokenSealer } from '../domain/token-sealing.js';
import { decodeIncomingToken } from '../domain/version-rules.js';

type RequestOf<C> = C extends RequestContract<infer Q, unknown> ? Q : never;
type ReplyOf<C> = C extends RequestContract<unknown, infer R> ? R : never;

export type StoreRequest = RequestOf<typeof StoreBootstrapToken>;
export type StoreReply = ReplyOf<typeof StoreBootstrapToken>;
export type FetchRequest = RequestOf<typeof FetchBootstrapToken>;
export type FetchReply = ReplyOf<typeof FetchBootstrapToken>;

/** Answers SetBootstrapToken (forwarded by check-in) and reads for RTS; the only user of the key. */
@Injectable()
export class EscrowService {
  private readonly logger = createLogger('EscrowService');

  constructor(
    private readonly bus: MessageBus,
    private readonly repository: EscrowRepository,
    private readonly sealer: TokenSealer,
  ) {}

  async store(envelope: Envelope<StoreRequest>): Promise<StoreReply> {
    const { udid, awaitingConfiguration } = envelope.data;
    this.assertSubject(envelope, udid);
    // The device itself is the requester: check-in only forwards its SetBootstrapToken.
    const access = accessOf(envelope, 'device', 'SetBootstrapToken');
    const fields = { udid, awaitingConfiguration, messageId: envelope.id };
    const token = decodeIncomingToken(envelope.data.token);
    if (!token) {
      const outcome = await this.repository.clear(udid, access);
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
        udid,
        {
          fingerprint: this.sealer.fingerprint(udid, token),
          sealAs: (version) => this.sealer.seal({ udid, version }, token),
        },
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
    this.assertSubject(envelope, udid);
    const fields = { udid, requestedBy, reason, messageId: envelope.id };
    const found = await this.repository.fetch(udid, accessOf(envelope, requestedBy, reason));
    if (!found) {
      this.logger.info({ ...fields, found: false }, 'bootstrap token fetched');

      return {};
    }

    let clear: Buffer;
    try {
      clear = this.sealer.open({ udid, version: found.version }, found.sealed);
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

  /** A message about one device must not read or write another device's token. */
  private assertSubject(envelope: Envelope, udid: string): void {
    if (envelope.subject === udid) {
      return;
    }
    const error = new SubjectMismatchError(envelope.subject, udid);
    this.logger.warn(
      {
        udid,
        subject: envelope.subject,
        type: envelope.type,
        messageId: envelope.id,
        code: error.code,
      },
      'escrow request refused',
    );
    throw error;
  }

  private async publish<T>(cause: Envelope, contract: EventContract<T>, data: T): Promise<void> {
    // TODO(#4): published after the commit, so a crash or a bus failure here loses the event
    // while the change stands; a transactional outbox written with the version closes the gap.
    try {
      await this.bus.publish(contract, data, {
        subject: cause.subject,
        correlationId: cause.correlationId,
        causationId: cause.id,
      });
    } catch (error) {
      this.logger.error(
        { udid: cause.subject, type: contract.routingKey, code: errorCode(error) },
        'escrow event not published',
      );
    }
  }
}

function accessOf(envelope: Envelope, requestedBy: string, reason: string): AccessRecord {
  return {
    requestedBy,
    reason,
    source: envelope.source,
    messageId: envelope.id,
    correlationId: envelope.correlationId,
  };
}
