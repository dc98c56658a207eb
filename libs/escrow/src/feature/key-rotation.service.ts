import { Injectable } from '@nestjs/common';

import { DataOf, Envelope, ReplyOf, RewrapEscrowKeys } from '@turnaround/contracts';
import { createLogger, errorCode } from '@turnaround/platform';

import { EscrowRepository } from '../data-access/escrow.repository.js';
import { SECRET_KINDS, SecretSealer } from '../domain/secret-sealing.js';
import { accessOf } from './escrow-access.js';

export type RewrapRequest = DataOf<typeof RewrapEscrowKeys>;
export type RewrapReply = ReplyOf<typeof RewrapEscrowKeys>;

// Rows are read a page at a time so a large vault never sits in memory at once; each row is then
// re-wrapped in a transaction of its own, so devices keep storing and reading meanwhile.
const PAGE_ROWS = 100;

/**
 * Key rotation: moves every data key under the active key-encryption key. Secrets are not
 * re-encrypted; once a run reports examined equal to rewrapped, older keys can leave the ring.
 */
@Injectable()
export class KeyRotationService {
  private readonly logger = createLogger('KeyRotationService');

  constructor(
    private readonly repository: EscrowRepository,
    private readonly sealer: SecretSealer,
  ) {}

  async rewrap(envelope: Envelope<RewrapRequest>): Promise<RewrapReply> {
    const activeKeyId = this.sealer.activeKeyId;
    const { requestedBy } = envelope.data;
    const access = accessOf(envelope, requestedBy, `RewrapEscrowKeys under ${activeKeyId}`);
    let examined = 0;
    let rewrapped = 0;
    let failed = 0;
    for (const kind of SECRET_KINDS) {
      let after = '';
      for (;;) {
        const page = await this.repository.rowsToRewrap(kind, activeKeyId, after, PAGE_ROWS);
        for (const row of page) {
          examined += 1;
          after = row.id;
          try {
            const moved = await this.repository.rewrap(
              kind,
              row,
              (stored) =>
                this.sealer.rewrap(
                  { kind, udid: row.udid, version: stored.version },
                  stored.sealed,
                ),
              access,
            );
            rewrapped += moved ? 1 : 0;
          } catch (error) {
            // One unreadable row must not strand the others under an old key; it is reported,
            // and the reply's counts show that not everything moved.
            failed += 1;
            this.logger.error(
              { udid: row.udid, kind, version: row.version, code: errorCode(error) },
              'escrow data key not rewrapped',
            );
          }
        }
        if (page.length < PAGE_ROWS) {
          break;
        }
      }
    }
    const summary = {
      activeKeyId,
      examined,
      rewrapped,
      failed,
      requestedBy,
      messageId: envelope.id,
    };
    if (failed > 0) {
      this.logger.warn(summary, 'escrow keys rewrapped');
    } else {
      this.logger.info(summary, 'escrow keys rewrapped');
    }

    return { activeKeyId, examined, rewrapped };
  }
}
