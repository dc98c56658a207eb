/** What the check-in service remembers of one SCEP challenge. */
export interface ScepChallengeRecord {
  expiresAt: Date;
  usedAt: Date | null;
  transactionId: string | null;
  /** Hex SHA-256 of the PKCS#10 request the challenge was used for. */
  requestHash: string | null;
  /** The certificate issued with it, DER. */
  certificate: Buffer | null;
}

/** A PKCSReq that presents the challenge. */
export interface ScepChallengeUse {
  transactionId: string;
  requestHash: string;
}

export type ScepChallengeRefusal = 'unknown' | 'expired' | 'used';

export type ScepChallengeVerdict =
  | { kind: 'issue' }
  | { kind: 'reissue'; certificate: Buffer }
  | { kind: 'refuse'; reason: ScepChallengeRefusal };

/**
 * A challenge buys one certificate. A device that sends the same request again (same
 * transactionID and PKCS#10, e.g. because the CertRep was lost) gets the same certificate again;
 * any other request with a used challenge is refused, as is one with an unknown or expired
 * challenge. A used challenge answers replays until its row is purged, even past its expiry.
 */
export function judgeScepChallenge(
  record: ScepChallengeRecord | null,
  use: ScepChallengeUse,
  now: Date,
): ScepChallengeVerdict {
  if (record === null) {
    return { kind: 'refuse', reason: 'unknown' };
  }
  if (record.usedAt !== null) {
    const { certificate } = record;
    const replay =
      record.transactionId === use.transactionId && record.requestHash === use.requestHash;

    return certificate !== null && replay
      ? { kind: 'reissue', certificate }
      : { kind: 'refuse', reason: 'used' };
  }
  if (now.getTime() >= record.expiresAt.getTime()) {
    return { kind: 'refuse', reason: 'expired' };
  }

  return { kind: 'issue' };
}
