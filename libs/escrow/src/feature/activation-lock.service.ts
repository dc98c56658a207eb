import { Injectable, OnApplicationBootstrap } from '@nestjs/common';

import {
  ClearActivationLock,
  DataOf,
  Envelope,
  ReplyOf,
  StoreActivationLockBypassCode,
} from '@turnaround/contracts';
import { createLogger, errorCode } from '@turnaround/platform';

import { ActivationLockRepository } from '../data-access/activation-lock.repository.js';
import { EscrowRepository } from '../data-access/escrow.repository.js';
import { judgeUnlockAnswer, unlockRequest, UnlockOutcome } from '../domain/activation-lock.js';
import { SecretSealer } from '../domain/secret-sealing.js';
import { accessOf, assertSubject, incomingSecret } from './escrow-access.js';

export type StoreCodeRequest = DataOf<typeof StoreActivationLockBypassCode>;
export type StoreCodeReply = ReplyOf<typeof StoreActivationLockBypassCode>;
export type ClearLockRequest = DataOf<typeof ClearActivationLock>;
export type ClearLockReply = ReplyOf<typeof ClearActivationLock>;

/** The organisation named to Apple in every unlock call, for its audit. */
export class UnlockOrganization {
  constructor(readonly name: string) {}
}

const KIND = 'activation-lock-bypass-code';

/** Keeps the device's Activation Lock bypass code and uses it, without ever handing it out. */
@Injectable()
export class ActivationLockService implements OnApplicationBootstrap {
  private readonly logger = createLogger('ActivationLockService');

  constructor(
    private readonly organization: UnlockOrganization,
    private readonly repository: EscrowRepository,
    private readonly sealer: SecretSealer,
    private readonly unlock: ActivationLockRepository,
  ) {}

  /**
   * A missing unlock endpoint is said once, at start: every cycle of a supervised device that asks
   * for RTS itself asks for a clear, and a warning each time would bury the ones that matter. A
   * cycle it blocks records why.
   */
  onApplicationBootstrap(): void {
    if (!this.unlock.configured) {
      this.logger.warn(
        { variable: 'TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL' },
        'no unlock endpoint configured: Activation Lock cannot be cleared before an erase',
      );
    }
  }

  /** A new code retires the one in force (the device makes one after every erase). */
  async storeCode(envelope: Envelope<StoreCodeRequest>): Promise<StoreCodeReply> {
    const { udid } = envelope.data;
    assertSubject(this.logger, envelope, udid);
    // The device answered ActivationLockBypassCode; the commands service only forwards it.
    const access = accessOf(envelope, 'device', 'ActivationLockBypassCode');
    const code = Buffer.from(envelope.data.code, 'utf8');
    try {
      const outcome = await this.repository.escrow(
        KIND,
        udid,
        incomingSecret(this.sealer, this.logger, KIND, udid, code),
        access,
      );
      this.logger.info(
        {
          udid,
          version: outcome.version,
          retired: outcome.changed ? outcome.retired : undefined,
          outcome: outcome.changed ? 'escrowed' : 'unchanged',
          messageId: envelope.id,
        },
        'activation lock bypass code stored',
      );

      return { stored: true };
    } finally {
      code.fill(0);
    }
  }

  /**
   * Asks Apple to clear Activation Lock with the code in force. Every outcome is a reply; only a
   * code that does not open (a key gone from the ring, a tampered row) is an error.
   */
  async clear(envelope: Envelope<ClearLockRequest>): Promise<ClearLockReply> {
    const { udid, serialNumber, productType, imei, meid, requestedBy, reason } = envelope.data;
    assertSubject(this.logger, envelope, udid);
    const fields = { udid, requestedBy, reason, messageId: envelope.id };
    const access = accessOf(envelope, requestedBy, reason);
    if (!this.unlock.configured) {
      // Nothing to send the code to, so it is not read: presence alone decides the answer.
      if (!(await this.repository.inForce(KIND, udid))) {
        // A device without Activation Lock asks on every RTS cycle: nothing to clear, nothing
        // wrong.
        this.logger.info({ ...fields, outcome: 'no-code' }, 'activation lock not cleared');

        return { outcome: 'no-code' };
      }
      const reply: ClearLockReply = {
        outcome: 'unavailable',
        detail: 'no unlock endpoint configured (TURNAROUND_ACTIVATION_LOCK_UNLOCK_URL)',
      };
      this.logger.info({ ...fields, ...reply }, 'activation lock not cleared');

      return reply;
    }
    const found = await this.repository.fetch(KIND, udid, access);
    if (!found) {
      this.logger.info({ ...fields, outcome: 'no-code' }, 'activation lock not cleared');

      return { outcome: 'no-code' };
    }

    let code: string;
    try {
      const clear = this.sealer.open({ kind: KIND, udid, version: found.version }, found.sealed);
      code = clear.toString('utf8');
      clear.fill(0);
    } catch (error) {
      this.logger.error(
        { ...fields, version: found.version, code: errorCode(error) },
        'activation lock clear failed',
      );
      throw error;
    }
    const { query, form } = unlockRequest(
      { serialNumber, productType, imei, meid },
      { orgName: this.organization.name, guid: requestedBy },
      code,
    );
    const result = judgeUnlockAnswer(await this.unlock.escrowKeyUnlock(query, form), code);
    await this.recordOutcome(udid, found.version, result, access);
    const line = { ...fields, version: found.version, ...result };
    if (result.outcome === 'cleared') {
      this.logger.info(line, 'activation lock cleared');
    } else {
      this.logger.warn(line, 'activation lock not cleared');
    }

    return result;
  }

  private async recordOutcome(
    udid: string,
    version: number,
    result: UnlockOutcome,
    access: ReturnType<typeof accessOf>,
  ): Promise<void> {
    // Apple has already acted; failing the reply now would hide that from the requester.
    try {
      await this.repository.recordUnlock(udid, version, result.outcome, access);
    } catch (error) {
      this.logger.error(
        { udid, version, outcome: result.outcome, code: errorCode(error) },
        'activation lock outcome not audited',
      );
    }
  }
}
