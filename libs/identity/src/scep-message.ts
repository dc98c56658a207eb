// The SCEP pkiMessage attributes (RFC 8894 §3.2.1) both sides of a transaction read and write.
import { Asn1Node, octetStringOf, stringOf, tlv } from './der.js';
import { Oid } from './oids.js';
import { attribute, SignerInfo } from './signed-data.js';

/** messageType values (RFC 8894 §3.2.1.2), as the PrintableString carries them. */
export const SCEP_MESSAGE_TYPES = {
  CertRep: '3',
  RenewalReq: '17',
  PKCSReq: '19',
  CertPoll: '20',
  GetCert: '21',
  GetCRL: '22',
} as const;

export type PkiStatus = 'SUCCESS' | 'FAILURE' | 'PENDING';

const PKI_STATUS_VALUES: Readonly<Record<PkiStatus, string>> = {
  SUCCESS: '0',
  FAILURE: '2',
  PENDING: '3',
};

/** Why a CA refused a request (RFC 8894 §3.2.1.4). */
export type FailInfo = 'badAlg' | 'badMessageCheck' | 'badRequest' | 'badTime' | 'badCertId';

const FAIL_INFO_VALUES: Readonly<Record<FailInfo, string>> = {
  badAlg: '0',
  badMessageCheck: '1',
  badRequest: '2',
  badTime: '3',
  badCertId: '4',
};

// Apple devices and RFC 8894 both use 16-octet nonces; anything far longer is not a nonce.
export const NONCE_LENGTH = 16;
const MAX_NONCE_LENGTH = 64;
// RFC 8894 leaves the transactionID's form to the client (commonly a hex or base64 key hash).
const MAX_TRANSACTION_ID_LENGTH = 128;

/** The SCEP attributes of one signer, each undefined when absent or unreadable. */
export interface ScepAttributes {
  readonly messageType: string | undefined;
  readonly transactionId: string | undefined;
  readonly senderNonce: Buffer | undefined;
  readonly recipientNonce: Buffer | undefined;
  readonly pkiStatus: PkiStatus | undefined;
  readonly failInfo: FailInfo | undefined;
}

export function readScepAttributes(signer: SignerInfo): ScepAttributes {
  const attributes = signer.signedAttributes;
  const single = (type: string): Asn1Node | undefined => {
    const values = attributes?.values.get(type);

    return values?.length === 1 ? values[0] : undefined;
  };
  const text = (type: string): string | undefined => {
    const node = single(type);

    return node && !node.constructed ? safely(() => stringOf(attributes!.source, node)) : undefined;
  };
  const nonce = (type: string): Buffer | undefined => {
    const node = single(type);
    const value = node && safely(() => octetStringOf(attributes!.source, node, 'nonce'));

    return value && value.length > 0 && value.length <= MAX_NONCE_LENGTH
      ? Buffer.from(value)
      : undefined;
  };
  const transactionId = text(Oid.scepTransactionId);

  return {
    messageType: text(Oid.scepMessageType),
    transactionId:
      transactionId !== undefined &&
      transactionId.length > 0 &&
      transactionId.length <= MAX_TRANSACTION_ID_LENGTH
        ? transactionId
        : undefined,
    senderNonce: nonce(Oid.scepSenderNonce),
    recipientNonce: nonce(Oid.scepRecipientNonce),
    pkiStatus: keyOf(PKI_STATUS_VALUES, text(Oid.scepPkiStatus)),
    failInfo: keyOf(FAIL_INFO_VALUES, text(Oid.scepFailInfo)),
  };
}

export function messageTypeAttribute(value: string): Buffer {
  return attribute(Oid.scepMessageType, printable(value));
}

export function transactionIdAttribute(value: string): Buffer {
  return attribute(Oid.scepTransactionId, printable(value));
}

export function pkiStatusAttribute(status: PkiStatus): Buffer {
  return attribute(Oid.scepPkiStatus, printable(PKI_STATUS_VALUES[status]));
}

export function failInfoAttribute(failInfo: FailInfo): Buffer {
  return attribute(Oid.scepFailInfo, printable(FAIL_INFO_VALUES[failInfo]));
}

export function nonceAttribute(type: string, nonce: Buffer): Buffer {
  return attribute(type, tlv(0x04, nonce));
}

function printable(value: string): Buffer {
  return tlv(0x13, Buffer.from(value, 'latin1'));
}

function keyOf<K extends string>(
  table: Readonly<Record<K, string>>,
  value: string | undefined,
): K | undefined {
  return (Object.keys(table) as K[]).find((key) => table[key] === value);
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
