// A small ASN.1 reader and DER writer over Buffers. The reader keeps byte offsets so that callers
// can hash or verify the exact bytes they were sent (certificates, signed attributes), which a
// decode-then-re-encode library cannot promise. It accepts BER indefinite lengths because CMS
// encoders that stream (NSS-derived ones such as Apple's, OpenSSL with -stream) emit them.

export enum TagClass {
  Universal = 0,
  Application = 1,
  Context = 2,
  Private = 3,
}

export enum Tag {
  Boolean = 1,
  Integer = 2,
  BitString = 3,
  OctetString = 4,
  Null = 5,
  ObjectIdentifier = 6,
  Utf8String = 12,
  Sequence = 16,
  Set = 17,
  PrintableString = 19,
  TeletexString = 20,
  Ia5String = 22,
  UtcTime = 23,
  GeneralizedTime = 24,
  UniversalString = 28,
  BmpString = 30,
}

export interface Asn1Node {
  readonly tagClass: TagClass;
  readonly tag: number;
  readonly constructed: boolean;
  /** Offset of the first identifier octet. */
  readonly start: number;
  readonly contentStart: number;
  /** End of the content, exclusive (before the end-of-contents octets of an indefinite length). */
  readonly contentEnd: number;
  /** End of the whole element, exclusive. */
  readonly end: number;
  /** True when this element or any element inside it used an indefinite length. */
  readonly indefinite: boolean;
  readonly children: readonly Asn1Node[];
}

/** Thrown for any input the reader cannot make sense of; callers translate it. */
export class Asn1Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Asn1Error';
  }
}

// Real CMS signatures nest about ten levels deep; the bound only stops hostile recursion.
const MAX_DEPTH = 48;

export function parseAsn1(bytes: Buffer): Asn1Node {
  const node = readElement(bytes, 0, bytes.length, 0);
  if (node.end !== bytes.length) {
    throw new Asn1Error(`trailing ${bytes.length - node.end} bytes after the ASN.1 value`);
  }

  return node;
}

function readElement(bytes: Buffer, offset: number, limit: number, depth: number): Asn1Node {
  if (depth > MAX_DEPTH) {
    throw new Asn1Error('ASN.1 value is nested too deeply');
  }
  if (offset >= limit) {
    throw new Asn1Error('ASN.1 value is truncated');
  }

  const start = offset;
  const first = bytes[offset++];
  const tagClass = (first >> 6) as TagClass;
  const constructed = (first & 0x20) !== 0;
  let tag = first & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    let octet: number;
    do {
      if (offset >= limit || tag > 0xffffff) {
        throw new Asn1Error('ASN.1 tag is truncated or too large');
      }
      octet = bytes[offset++];
      tag = tag * 128 + (octet & 0x7f);
    } while (octet & 0x80);
  }

  if (offset >= limit) {
    throw new Asn1Error('ASN.1 length is truncated');
  }
  const lengthOctet = bytes[offset++];

  if (lengthOctet === 0x80) {
    if (!constructed) {
      throw new Asn1Error('indefinite length on a primitive ASN.1 value');
    }
    const children: Asn1Node[] = [];
    const contentStart = offset;
    for (;;) {
      if (offset + 1 < limit && bytes[offset] === 0 && bytes[offset + 1] === 0) {
        return {
          tagClass,
          tag,
          constructed,
          start,
          contentStart,
          contentEnd: offset,
          end: offset + 2,
          indefinite: true,
          children,
        };
      }
      const child = readElement(bytes, offset, limit, depth + 1);
      children.push(child);
      offset = child.end;
    }
  }

  let length = lengthOctet;
  if (lengthOctet & 0x80) {
    const count = lengthOctet & 0x7f;
    if (count > 4) {
      throw new Asn1Error('ASN.1 length is too large');
    }
    length = 0;
    for (let i = 0; i < count; i++) {
      if (offset >= limit) {
        throw new Asn1Error('ASN.1 length is truncated');
      }
      length = length * 256 + bytes[offset++];
    }
  }

  const contentStart = offset;
  const end = contentStart + length;
  if (end > limit) {
    throw new Asn1Error('ASN.1 value is truncated');
  }

  const children: Asn1Node[] = [];
  let indefinite = false;
  if (constructed) {
    let cursor = contentStart;
    while (cursor < end) {
      const child = readElement(bytes, cursor, end, depth + 1);
      children.push(child);
      indefinite ||= child.indefinite;
      cursor = child.end;
    }
  }

  return {
    tagClass,
    tag,
    constructed,
    start,
    contentStart,
    contentEnd: end,
    end,
    indefinite,
    children,
  };
}

export function isUniversal(node: Asn1Node | undefined, tag: Tag): node is Asn1Node {
  return node !== undefined && node.tagClass === TagClass.Universal && node.tag === tag;
}

export function isContext(node: Asn1Node | undefined, tag: number): node is Asn1Node {
  return node !== undefined && node.tagClass === TagClass.Context && node.tag === tag;
}

export function expectUniversal(node: Asn1Node | undefined, tag: Tag, what: string): Asn1Node {
  if (!isUniversal(node, tag)) {
    throw new Asn1Error(`${what} is missing or has the wrong type`);
  }

  return node;
}

export function expectConstructed(node: Asn1Node | undefined, tag: Tag, what: string): Asn1Node {
  const found = expectUniversal(node, tag, what);
  if (!found.constructed) {
    throw new Asn1Error(`${what} is not a constructed value`);
  }

  return found;
}

/** The complete encoding of an element, exactly as received. */
export function rawOf(bytes: Buffer, node: Asn1Node): Buffer {
  return bytes.subarray(node.start, node.end);
}

export function contentOf(bytes: Buffer, node: Asn1Node): Buffer {
  if (node.constructed) {
    throw new Asn1Error('expected a primitive ASN.1 value');
  }

  return bytes.subarray(node.contentStart, node.contentEnd);
}

/** OCTET STRING contents; BER lets an encoder split them into constructed segments. */
/** The octets of a BIT STRING that holds whole octets (a signature, a key): no unused bits. */
export function bitStringOctetsOf(bytes: Buffer, node: Asn1Node | undefined, what: string): Buffer {
  const content = contentOf(bytes, expectUniversal(node, Tag.BitString, what));
  if (content.length < 1 || content[0] !== 0) {
    throw new Asn1Error(`${what} is not a whole number of octets`);
  }

  return content.subarray(1);
}

export function octetStringOf(bytes: Buffer, node: Asn1Node, what: string): Buffer {
  expectUniversal(node, Tag.OctetString, what);
  if (!node.constructed) {
    return bytes.subarray(node.contentStart, node.contentEnd);
  }

  return Buffer.concat(node.children.map((child) => octetStringOf(bytes, child, what)));
}

export function oidOf(bytes: Buffer, node: Asn1Node | undefined, what: string): string {
  const content = contentOf(bytes, expectUniversal(node, Tag.ObjectIdentifier, what));
  if (content.length === 0 || (content[content.length - 1] & 0x80) !== 0) {
    throw new Asn1Error(`${what} is not a valid object identifier`);
  }

  const arcs: number[] = [];
  let value = 0;
  for (const octet of content) {
    // Arcs beyond 2^45 appear in no algorithm we accept; refusing them keeps numbers exact.
    if (value > 2 ** 45) {
      throw new Asn1Error(`${what} has an object identifier arc that is too large`);
    }
    value = value * 128 + (octet & 0x7f);
    if ((octet & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }

  const first = arcs[0];
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];

  return [...head, ...arcs.slice(1)].join('.');
}

export function timeOf(bytes: Buffer, node: Asn1Node | undefined, what: string): Date {
  if (!isUniversal(node, Tag.UtcTime) && !isUniversal(node, Tag.GeneralizedTime)) {
    throw new Asn1Error(`${what} is not a time value`);
  }

  const text = contentOf(bytes, node).toString('latin1');
  const match =
    node.tag === Tag.UtcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(text);
  if (!match) {
    throw new Asn1Error(`${what} is not a UTC time`);
  }

  let year = Number(match[1]);
  if (node.tag === Tag.UtcTime) {
    // RFC 5280 §4.1.2.5.1: two-digit years 50-99 are 19xx, 00-49 are 20xx.
    year += year >= 50 ? 1900 : 2000;
  }
  const date = new Date(
    Date.UTC(
      year,
      Number(match[2]) - 1,
      Number(match[3]),
      Number(match[4]),
      Number(match[5]),
      Number(match[6] ?? 0),
    ),
  );
  if (Number.isNaN(date.getTime())) {
    throw new Asn1Error(`${what} is not a valid date`);
  }

  return date;
}

/** Decodes the directory string types that certificates use for names. */
export function stringOf(bytes: Buffer, node: Asn1Node): string {
  const content = contentOf(bytes, node);
  switch (node.tag) {
    case Tag.BmpString:
      return swapBytes(content).toString('utf16le');
    case Tag.TeletexString:
      return content.toString('latin1');
    case Tag.UniversalString:
      return decodeUcs4(content);
    default:
      return content.toString('utf8');
  }
}

function swapBytes(content: Buffer): Buffer {
  const copy = Buffer.from(content.subarray(0, content.length - (content.length % 2)));

  return copy.swap16();
}

function decodeUcs4(content: Buffer): string {
  let text = '';
  for (let i = 0; i + 3 < content.length; i += 4) {
    const codePoint = content.readUInt32BE(i);
    text += codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '\ufffd';
  }

  return text;
}

/** Re-encodes a BER element with definite lengths, which is DER for everything CMS signs. */
export function toDefiniteLength(bytes: Buffer, node: Asn1Node): Buffer {
  if (!node.indefinite) {
    return rawOf(bytes, node);
  }

  const identifier = bytes.subarray(node.start, identifierEnd(bytes, node));
  const content = Buffer.concat(node.children.map((child) => toDefiniteLength(bytes, child)));

  return Buffer.concat([identifier, encodeLength(content.length), content]);
}

function identifierEnd(bytes: Buffer, node: Asn1Node): number {
  let offset = node.start + 1;
  if ((bytes[node.start] & 0x1f) === 0x1f) {
    while (bytes[offset] & 0x80) {
      offset++;
    }
    offset++;
  }

  return offset;
}

// --- writer -------------------------------------------------------------------------------------

function encodeLength(length: number): Buffer {
  if (length < 0x80) {
    return Buffer.from([length]);
  }

  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) {
    octets.unshift(rest & 0xff);
  }

  return Buffer.from([0x80 | octets.length, ...octets]);
}

/** One element from a complete identifier octet (class, constructed bit and tag) and content. */
export function tlv(identifier: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0] : Buffer.concat(content);

  return Buffer.concat([Buffer.from([identifier]), encodeLength(body.length), body]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);

/** A DER SET OF: members sorted by their encodings (X.690 §11.6). */
export function setOf(...items: Buffer[]): Buffer {
  return tlv(0x31, ...[...items].sort(Buffer.compare));
}

export const explicit = (tag: number, ...content: Buffer[]): Buffer => tlv(0xa0 | tag, ...content);

export const NULL = Buffer.from([0x05, 0x00]);

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const octets: number[] = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    const group = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) {
      group.unshift(0x80 | (rest & 0x7f));
    }
    octets.push(...group);
  }

  return tlv(0x06, Buffer.from(octets));
}

/** A non-negative INTEGER from its big-endian magnitude. */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) {
    start++;
  }
  const trimmed = magnitude.subarray(start);
  const content =
    trimmed.length === 0 || trimmed[0] & 0x80
      ? Buffer.concat([Buffer.from([0]), trimmed])
      : trimmed;

  return tlv(0x02, content);
}

export const smallInteger = (value: number): Buffer => unsignedInteger(Buffer.from([value]));

export const octetString = (content: Buffer): Buffer => tlv(0x04, content);

export const bitString = (content: Buffer): Buffer => tlv(0x03, Buffer.from([0]), content);

export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));

export const booleanValue = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0]));

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires. */
export function time(date: Date): Buffer {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) {
    return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'latin1'));
  }

  return tlv(0x18, Buffer.from(`${digits}Z`, 'latin1'));
}
