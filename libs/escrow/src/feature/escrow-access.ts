import type { Envelope } from '@turnaround/contracts';
import { errorCode, Logger } from '@turnaround/platform';

import type { AccessRecord, IncomingSecret } from '../data-access/escrow.repository.js';
import { SubjectMismatchError } from '../domain/escrow.errors.js';
import { SecretKind, SecretSealer } from '../domain/secret-sealing.js';

/** Who asked and why, for the audit table, with the message that carried the request. */
export function accessOf(envelope: Envelope, requestedBy: string, reason: string): AccessRecord {
  return {
    requestedBy,
    reason,
    source: envelope.source,
    messageId: envelope.id,
    correlationId: envelope.correlationid,
  };
}

/** A message about one device must not read or write another device's secrets. */
export function assertSubject(logger: Logger, envelope: Envelope, udid: string): void {
  if (envelope.subject === udid) {
    return;
  }
  const error = new SubjectMismatchError(envelope.subject, udid);
  logger.warn(
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

/**
 * A secret on its way in. When the version in force cannot be compared (its key left the ring,
 * or its seal is broken) the secret counts as new: the device is handing over a fresh copy,
 * which is the remedy, and refusing it would leave the device with nothing usable escrowed.
 */
export function incomingSecret(
  sealer: SecretSealer,
  logger: Logger,
  kind: SecretKind,
  udid: string,
  secret: Buffer,
): IncomingSecret {
  return {
    repeats: (current) => {
      try {
        return sealer.holds({ kind, udid, version: current.version }, current, secret);
      } catch (error) {
        logger.warn(
          { udid, kind, version: current.version, code: errorCode(error) },
          'escrowed version not comparable, kept as history',
        );

        return false;
      }
    },
    sealAs: (version) => sealer.seal({ kind, udid, version }, secret),
  };
}
