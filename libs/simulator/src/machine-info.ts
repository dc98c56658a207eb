import { createHash, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

import { encodePlistXml, type PlistDict } from '@turnaround/protocol';

import type { Hardware } from './hardware.js';

// A few DER encoders, enough for one self-signed certificate and one CMS SignedData (RFC 5652).

function length(size: number): Buffer {
  if (size < 0x80) {
    return Buffer.from([size]);
  }

  const bytes: number[] = [];

  for (let rest = size; rest > 0; rest = Math.floor(rest / 256)) {
    bytes.unshift(rest % 256);
  }

  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);

  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
// DER orders the members of a SET OF by their encodings.
const setOf = (...items: Buffer[]): Buffer => tlv(0x31, ...[...items].sort(Buffer.compare));
const octetString = (bytes: Uint8Array): Buffer => tlv(0x04, Buffer.from(bytes));
const explicit = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 + n, ...content);
const NULL = Buffer.from([0x05, 0x00]);

function integer(value: Buffer | number): Buffer {
  let bytes = typeof value === 'number' ? Buffer.from([value]) : value;

  while (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] ?? 0) & 0x80) === 0) {
    bytes = bytes.subarray(1);
  }

  // A leading zero keeps a value with its top bit set positive.
  return tlv(
    0x02,
    ((bytes[0] ?? 0) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes,
  );
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes: number[] = [first * 40 + second];

  for (const arc of rest) {
    const groups: number[] = [];

    for (let value = arc; ; value = Math.floor(value / 128)) {
      groups.unshift((value % 128) | (groups.length === 0 ? 0 : 0x80));
      if (value < 128) {
        break;
      }
    }
    bytes.push(...groups);
  }

  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14);

  return tlv(0x17, Buffer.from(`${text}Z`, 'latin1'));
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha256: '2.16.840.1.101.3.4.2.1',
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
} as const;

function name(commonName: string): Buffer {
  const part = (type: string, value: string): Buffer =>
    setOf(sequence(oid(type), tlv(0x0c, Buffer.from(value, 'utf8'))));

  return sequence(part(OID.organization, 'Turnaround simulator'), part(OID.commonName, commonName));
}

const generate = promisify(generateKeyPair);
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The device's own signer for its MachineInfo: a per-device key and a self-signed certificate.
 * A real device signs with an Apple-issued device identity; the service can only check that the
 * body is intact and signed by the certificate it carries, which this reproduces.
 */
export class MachineInfoSigner {
  private constructor(
    private readonly key: KeyObject,
    private readonly certificate: Buffer,
    private readonly issuer: Buffer,
    private readonly serial: Buffer,
  ) {}

  /**
   * RSA 1024, the size of the device identities Apple's iPhone Device CA issues; it also keeps key
   * generation for a fleet of thousands to a few seconds (2048 bits take twenty times as long).
   */
  static async create(commonName: string): Promise<MachineInfoSigner> {
    const { privateKey, publicKey } = await generate('rsa', { modulusLength: 1024 });
    const serial = randomBytes(8);
    const subject = name(commonName);
    const algorithm = sequence(oid(OID.sha256WithRsa), NULL);
    const now = Date.now();
    const tbs = sequence(
      explicit(0, integer(2)),
      integer(serial),
      algorithm,
      subject,
      sequence(utcTime(new Date(now - DAY_MS)), utcTime(new Date(now + 3650 * DAY_MS))),
      subject,
      publicKey.export({ type: 'spki', format: 'der' }),
    );
    const signature = sign('sha256', tbs, privateKey);
    const certificate = sequence(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));

    return new MachineInfoSigner(privateKey, certificate, subject, serial);
  }

  /** CMS SignedData (DER) with `content` attached, SHA-256, the certificate included. */
  sign(content: Uint8Array, signingTime = new Date()): Buffer {
    const digest = createHash('sha256').update(content).digest();
    const attributes = [
      sequence(oid(OID.contentType), setOf(oid(OID.data))),
      sequence(oid(OID.signingTime), setOf(utcTime(signingTime))),
      sequence(oid(OID.messageDigest), setOf(octetString(digest))),
    ];
    // The signature covers the attributes as a SET OF; the SignerInfo carries the same bytes
    // under the [0] IMPLICIT tag (RFC 5652 section 5.4).
    const signedAttributes = setOf(...attributes);
    const signature = sign('sha256', signedAttributes, this.key);
    const implicitAttributes = Buffer.from(signedAttributes);

    implicitAttributes[0] = 0xa0;

    const digestAlgorithm = sequence(oid(OID.sha256));
    const signerInfo = sequence(
      integer(1),
      sequence(this.issuer, integer(this.serial)),
      digestAlgorithm,
      implicitAttributes,
      sequence(oid(OID.rsaEncryption), NULL),
      octetString(signature),
    );
    const signedData = sequence(
      integer(1),
      setOf(digestAlgorithm),
      sequence(oid(OID.data), explicit(0, octetString(content))),
      explicit(0, this.certificate),
      setOf(signerInfo),
    );

    return sequence(oid(OID.signedData), explicit(0, signedData));
  }
}

/**
 * The MachineInfo dictionary an ADE device posts for its enrollment profile (other/machineinfo.yaml).
 * tvOS cannot be asked to update during enrollment, so it leaves MDM_CAN_REQUEST_SOFTWARE_UPDATE out.
 */
export function machineInfoOf(hardware: Hardware): PlistDict {
  const info: PlistDict = {
    UDID: hardware.udid,
    SERIAL: hardware.serialNumber,
    PRODUCT: hardware.productName,
    VERSION: hardware.buildVersion,
    OS_VERSION: hardware.osVersion,
    LANGUAGE: hardware.language,
  };

  if (hardware.platform !== 'tvos') {
    info['MDM_CAN_REQUEST_SOFTWARE_UPDATE'] = true;
  }

  return info;
}

/** The signed MachineInfo body, as the device POSTs it to the ADE profile's `url`. */
export function signedMachineInfo(hardware: Hardware, signer: MachineInfoSigner): Buffer {
  return signer.sign(encodePlistXml(machineInfoOf(hardware)));
}
