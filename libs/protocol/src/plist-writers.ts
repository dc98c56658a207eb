import { PlistError } from './protocol.errors.js';
import { describePlistType, type PlistValue } from './plist-types.js';

// Our own encoders, so that what we send is exact: bytes become <data> base64-encoded once,
// bigints keep every digit, integers never turn into reals, and a value that cannot be
// represented is an error instead of being skipped (undefined, null, functions, cycles).

const XML_HEADER =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" ' +
  '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n';
const MAX_ENCODE_DEPTH = 512;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const EPOCH_2001_MS = 978_307_200_000;
const NEEDS_ESCAPE_RE = /[&<>\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/;
// Characters XML 1.0 cannot carry, plus UTF-16 surrogates that are not part of a pair.
const XML_FORBIDDEN_RE = new RegExp(
  [
    '[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ufffe\\uffff]',
    '[\\ud800-\\udbff](?![\\udc00-\\udfff])',
    '(?<![\\ud800-\\udbff])[\\udc00-\\udfff]',
  ].join('|'),
);

function unencodable(path: string, reason: string): never {
  throw new PlistError('PLIST.UNENCODABLE', `cannot encode ${path || 'the root value'}: ${reason}`);
}

function childPath(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

type NumberForm = { kind: 'integer'; value: bigint } | { kind: 'real'; value: number };

// Integral numbers inside the 64-bit range are integers; everything else (fractions, NaN,
// ±Infinity, -0, huge magnitudes) is a real.
function classifyNumber(n: number): NumberForm {
  if (Number.isInteger(n) && !Object.is(n, -0)) {
    const big = BigInt(n);

    if (big >= INT64_MIN && big <= UINT64_MAX) return { kind: 'integer', value: big };
  }

  return { kind: 'real', value: n };
}

function checkBigint(value: bigint, path: string): bigint {
  if (value < INT64_MIN || value > UINT64_MAX) unencodable(path, 'integer exceeds 64 bits');

  return value;
}

function isDictLike(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);

  return proto === Object.prototype || proto === null;
}

// ---------------------------------------------------------------- XML

function escapeXml(text: string, path: string): string {
  if (!NEEDS_ESCAPE_RE.test(text)) return text;
  if (XML_FORBIDDEN_RE.test(text)) {
    unencodable(path, 'the string holds a character XML 1.0 cannot carry; use the binary format');
  }

  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r/g, '&#13;');
}

function formatReal(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Number.POSITIVE_INFINITY) return '+infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-infinity';
  if (Object.is(n, -0)) return '-0';

  return String(n);
}

function formatDate(date: Date, path: string): string {
  const ms = date.getTime();

  if (Number.isNaN(ms)) unencodable(path, 'invalid Date');

  // Apple writes XML dates to the second; sub-second precision is dropped (binary keeps it).
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString();

  if (!/^\d{4}-/.test(iso)) unencodable(path, 'the year is outside 0000-9999');

  return `${iso.slice(0, 19)}Z`;
}

class XmlWriter {
  private readonly out: string[] = [];
  private readonly active = new Set<object>();

  write(value: unknown, indent: string, path: string): void {
    const out = this.out;

    switch (typeof value) {
      case 'string':
        out.push(`${indent}<string>${escapeXml(value, path)}</string>\n`);

        return;
      case 'boolean':
        out.push(value ? `${indent}<true/>\n` : `${indent}<false/>\n`);

        return;
      case 'bigint':
        out.push(`${indent}<integer>${checkBigint(value, path)}</integer>\n`);

        return;
      case 'number': {
        const form = classifyNumber(value);

        out.push(
          form.kind === 'integer'
            ? `${indent}<integer>${form.value}</integer>\n`
            : `${indent}<real>${formatReal(form.value)}</real>\n`,
        );

        return;
      }
      case 'object':
        if (value === null) break;
        if (value instanceof Uint8Array) {
          const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString(
            'base64',
          );

          out.push(`${indent}<data>${base64}</data>\n`);

          return;
        }
        if (value instanceof Date) {
          out.push(`${indent}<date>${formatDate(value, path)}</date>\n`);

          return;
        }
        this.writeContainer(value, indent, path);

        return;
      default:
        break;
    }

    unencodable(path, `${describePlistType(value)} has no plist form`);
  }

  private writeContainer(value: object, indent: string, path: string): void {
    if (this.active.has(value)) unencodable(path, 'the value contains itself');
    if (this.active.size >= MAX_ENCODE_DEPTH) unencodable(path, 'nesting is too deep');

    const out = this.out;
    const inner = `${indent}\t`;

    this.active.add(value);
    if (Array.isArray(value)) {
      if (value.length === 0) {
        out.push(`${indent}<array/>\n`);
      } else {
        out.push(`${indent}<array>\n`);
        // An index loop, not forEach: holes in a sparse array must fail, not vanish.
        for (let i = 0; i < value.length; i++) this.write(value[i], inner, childPath(path, i));
        out.push(`${indent}</array>\n`);
      }
    } else if (isDictLike(value)) {
      const keys = Object.keys(value);

      if (keys.length === 0) {
        out.push(`${indent}<dict/>\n`);
      } else {
        out.push(`${indent}<dict>\n`);
        for (const key of keys) {
          const keyPath = childPath(path, key);

          out.push(`${inner}<key>${escapeXml(key, keyPath)}</key>\n`);
          this.write(value[key], inner, keyPath);
        }
        out.push(`${indent}</dict>\n`);
      }
    } else {
      unencodable(path, `${value.constructor?.name ?? 'this object'} has no plist form`);
    }
    this.active.delete(value);
  }

  finish(): Buffer {
    return Buffer.from(this.out.join(''), 'utf8');
  }
}

/** Encodes `value` as an Apple XML plist (UTF-8, tab-indented, `<data>` on one line). */
export function writeXmlPlist(value: PlistValue): Buffer {
  const writer = new XmlWriter();

  writer.write(value, '', '');

  return Buffer.concat([Buffer.from(XML_HEADER), writer.finish(), Buffer.from('</plist>\n')]);
}

// ---------------------------------------------------------------- binary

const SCALAR = 0;
const ARRAY = 1;
const DICT = 2;

type Kind = typeof SCALAR | typeof ARRAY | typeof DICT;

class ByteSink {
  private buf = Buffer.allocUnsafe(1024);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;

    let size = this.buf.length * 2;

    while (size < this.length + extra) size *= 2;

    const next = Buffer.allocUnsafe(size);

    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  uint(value: number, size: number): void {
    this.ensure(size);
    if (size === 8) this.buf.writeBigUInt64BE(BigInt(value), this.length);
    else this.buf.writeUIntBE(value, this.length, size);
    this.length += size;
  }

  bigint64(value: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(value, this.length);
    this.length += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(value, this.length);
    this.length += 8;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function sizeFor(max: number): number {
  if (max <= 0xff) return 1;
  if (max <= 0xffff) return 2;
  if (max <= 0xffffffff) return 4;

  return 8;
}

class BinaryWriter {
  private readonly kinds: Kind[] = [];
  private readonly values: unknown[] = [];
  private readonly refs: number[][] = [];
  private readonly strings = new Map<string, number>();
  private readonly active = new Set<object>();

  flatten(value: unknown, path: string): number {
    if (typeof value === 'string') {
      const known = this.strings.get(value);

      if (known !== undefined) return known;

      const id = this.add(SCALAR, value);

      this.strings.set(value, id);

      return id;
    }
    if (typeof value === 'bigint') return this.add(SCALAR, checkBigint(value, path));
    if (typeof value === 'number' || typeof value === 'boolean') return this.add(SCALAR, value);
    if (typeof value !== 'object' || value === null) {
      unencodable(path, `${describePlistType(value)} has no plist form`);
    }
    if (value instanceof Uint8Array) return this.add(SCALAR, value);
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) unencodable(path, 'invalid Date');

      return this.add(SCALAR, value);
    }
    if (this.active.has(value)) unencodable(path, 'the value contains itself');
    if (this.active.size >= MAX_ENCODE_DEPTH) unencodable(path, 'nesting is too deep');

    this.active.add(value);

    let id: number;

    if (Array.isArray(value)) {
      id = this.add(ARRAY, value);
      const itemRefs: number[] = [];

      for (let i = 0; i < value.length; i++)
        itemRefs.push(this.flatten(value[i], childPath(path, i)));
      this.refs[id] = itemRefs;
    } else if (isDictLike(value)) {
      id = this.add(DICT, value);

      const keys = Object.keys(value);
      const keyRefs = keys.map((key) => this.flatten(key, childPath(path, key)));
      const valueRefs = keys.map((key) => this.flatten(value[key], childPath(path, key)));

      this.refs[id] = keyRefs.concat(valueRefs);
    } else {
      unencodable(path, `${value.constructor?.name ?? 'this object'} has no plist form`);
    }

    this.active.delete(value);

    return id;
  }

  private add(kind: Kind, value: unknown): number {
    this.kinds.push(kind);
    this.values.push(value);
    this.refs.push([]);

    return this.kinds.length - 1;
  }

  serialize(): Buffer {
    const count = this.kinds.length;
    const refSize = sizeFor(count - 1);
    const sink = new ByteSink();
    const offsets = new Array<number>(count);

    for (const c of 'bplist00') sink.byte(c.charCodeAt(0));

    for (let id = 0; id < count; id++) {
      offsets[id] = sink.length;

      const refs = this.refs[id] ?? [];

      switch (this.kinds[id]) {
        case ARRAY:
          this.header(sink, 0xa, refs.length);
          for (const ref of refs) sink.uint(ref, refSize);
          break;
        case DICT:
          this.header(sink, 0xd, refs.length / 2);
          for (const ref of refs) sink.uint(ref, refSize);
          break;
        default:
          this.scalar(sink, this.values[id]);
      }
    }

    const tableOffset = sink.length;
    const offsetSize = sizeFor(tableOffset);

    for (const offset of offsets) sink.uint(offset, offsetSize);

    for (let i = 0; i < 6; i++) sink.byte(0);
    sink.byte(offsetSize);
    sink.byte(refSize);
    sink.uint(count, 8);
    sink.uint(0, 8);
    sink.uint(tableOffset, 8);

    return sink.result();
  }

  private header(sink: ByteSink, type: number, length: number): void {
    if (length < 15) {
      sink.byte((type << 4) | length);

      return;
    }

    sink.byte((type << 4) | 0x0f);
    this.integer(sink, BigInt(length));
  }

  private integer(sink: ByteSink, value: bigint): void {
    if (value >= 0n && value <= 0xffffffffn) {
      const size = sizeFor(Number(value));

      sink.byte(0x10 | Math.log2(size));
      sink.uint(Number(value), size);
    } else if (value <= INT64_MAX) {
      sink.byte(0x13);
      sink.bigint64(value);
    } else {
      // Above INT64_MAX: the 16-byte signed form, high half zero, as CoreFoundation writes it.
      sink.byte(0x14);
      sink.bigint64(0n);
      sink.bigint64(BigInt.asIntN(64, value));
    }
  }

  private scalar(sink: ByteSink, value: unknown): void {
    if (typeof value === 'boolean') {
      sink.byte(value ? 0x09 : 0x08);
    } else if (typeof value === 'bigint') {
      this.integer(sink, value);
    } else if (typeof value === 'number') {
      const form = classifyNumber(value);

      if (form.kind === 'integer') {
        this.integer(sink, form.value);
      } else {
        sink.byte(0x23);
        sink.double(form.value);
      }
    } else if (typeof value === 'string') {
      this.string(sink, value);
    } else if (value instanceof Uint8Array) {
      this.header(sink, 0x4, value.length);
      sink.bytes(value);
    } else if (value instanceof Date) {
      sink.byte(0x33);
      sink.double((value.getTime() - EPOCH_2001_MS) / 1000);
    }
  }

  private string(sink: ByteSink, value: string): void {
    let ascii = true;

    for (let i = 0; i < value.length; i++) {
      if (value.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }

    if (ascii) {
      this.header(sink, 0x5, value.length);
      sink.bytes(Buffer.from(value, 'latin1'));

      return;
    }

    // UTF-16BE code units, so lone surrogates survive exactly.
    this.header(sink, 0x6, value.length);
    for (let i = 0; i < value.length; i++) sink.uint(value.charCodeAt(i), 2);
  }
}

/** Encodes `value` as a `bplist00` binary plist. */
export function writeBinaryPlist(value: PlistValue): Buffer {
  const writer = new BinaryWriter();

  writer.flatten(value, '');

  return writer.serialize();
}
