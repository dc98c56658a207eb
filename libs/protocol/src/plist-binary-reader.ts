import { PlistError, type PlistErrorCode } from './protocol.errors.js';
import type { PlistDict, PlistLimits, PlistValue } from './plist-types.js';

// A bounds-checked reader for `bplist00`. Every offset, length and reference is checked against
// the buffer before it is followed; 64-bit integers come back as bigint when they are not safe
// numbers, including the 16-byte form CoreFoundation writes for values above INT64_MAX.

const HEADER = 'bplist00';
const TRAILER_SIZE = 32;
const EPOCH_2001_MS = 978_307_200_000;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function fail(code: PlistErrorCode, reason: string): never {
  throw new PlistError(code, `binary plist rejected: ${reason}`);
}

function normalizeInteger(value: bigint): number | bigint {
  if (value < INT64_MIN || value > UINT64_MAX) fail('PLIST.MALFORMED', 'integer exceeds 64 bits');

  const n = Number(value);

  return Number.isSafeInteger(n) ? n : value;
}

export function isBinaryPlist(bytes: Uint8Array): boolean {
  if (bytes.length < 6) return false;
  for (let i = 0; i < 6; i++) if (bytes[i] !== HEADER.charCodeAt(i)) return false;

  return true;
}

export function readBinaryPlist(bytes: Uint8Array, limits: PlistLimits): PlistValue {
  for (let i = 0; i < HEADER.length; i++) {
    if (bytes[i] !== HEADER.charCodeAt(i)) {
      fail('PLIST.UNSUPPORTED_FORMAT', 'only the "bplist00" format is accepted');
    }
  }

  // A plain Uint8Array view, so slice() copies (Buffer#slice would alias the request body).
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);

  return new BinaryPlistReader(plain, limits).readTop();
}

class BinaryPlistReader {
  private readonly view: DataView;
  private readonly offsetSize: number;
  private readonly refSize: number;
  private readonly objectCount: number;
  private readonly topObject: number;
  private readonly tableOffset: number;
  private readonly inProgress: Uint8Array;
  private objects = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly limits: PlistLimits,
  ) {
    const length = bytes.length;

    // Smallest possible document: header, one one-byte object, a one-byte offset, the trailer.
    if (length < HEADER.length + 2 + TRAILER_SIZE) fail('PLIST.MALFORMED', 'the data is truncated');

    this.view = new DataView(bytes.buffer, bytes.byteOffset, length);

    const trailer = length - TRAILER_SIZE;

    this.offsetSize = bytes[trailer + 6] ?? 0;
    this.refSize = bytes[trailer + 7] ?? 0;
    this.objectCount = this.readTrailerNumber(trailer + 8);
    this.topObject = this.readTrailerNumber(trailer + 16);
    this.tableOffset = this.readTrailerNumber(trailer + 24);

    if (![1, 2, 4, 8].includes(this.offsetSize) || ![1, 2, 4, 8].includes(this.refSize)) {
      fail('PLIST.MALFORMED', 'the trailer has invalid integer sizes');
    }
    if (this.objectCount < 1 || this.topObject >= this.objectCount) {
      fail('PLIST.MALFORMED', 'the trailer has an invalid object count or top object');
    }
    if (
      this.tableOffset < HEADER.length + 1 ||
      this.tableOffset + this.objectCount * this.offsetSize > trailer
    ) {
      fail('PLIST.MALFORMED', 'the offset table lies outside the data (truncated?)');
    }

    this.inProgress = new Uint8Array(this.objectCount);
  }

  readTop(): PlistValue {
    return this.readObject(this.topObject, 0);
  }

  private readTrailerNumber(at: number): number {
    const hi = this.view.getUint32(at);
    const lo = this.view.getUint32(at + 4);

    if (hi > 0x1fffff) fail('PLIST.MALFORMED', 'the trailer holds an absurd number');

    return hi * 0x1_0000_0000 + lo;
  }

  private readUint(at: number, size: number): number {
    if (at + size > this.bytes.length) fail('PLIST.MALFORMED', 'the data is truncated');

    switch (size) {
      case 1:
        return this.view.getUint8(at);
      case 2:
        return this.view.getUint16(at);
      case 4:
        return this.view.getUint32(at);
      default: {
        const value = this.view.getBigUint64(at);

        if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail('PLIST.MALFORMED', 'offset too large');

        return Number(value);
      }
    }
  }

  private offsetOf(ref: number): number {
    if (ref >= this.objectCount) fail('PLIST.MALFORMED', `reference ${ref} has no object`);

    const offset = this.readUint(this.tableOffset + ref * this.offsetSize, this.offsetSize);

    if (offset < HEADER.length || offset >= this.tableOffset) {
      fail('PLIST.MALFORMED', `object ${ref} lies outside the object area`);
    }

    return offset;
  }

  // Returns [length, first content byte] for objects whose low nibble may be an extended length.
  private readLength(offset: number, nibble: number): [number, number] {
    if (nibble !== 0x0f) return [nibble, offset + 1];

    const marker = this.bytes[offset + 1] ?? 0;

    if (marker >> 4 !== 0x1 || (marker & 0x0f) > 3) {
      fail('PLIST.MALFORMED', 'an extended length is not an integer');
    }

    const size = 1 << (marker & 0x0f);

    return [this.readUint(offset + 2, size), offset + 2 + size];
  }

  private checkSpan(start: number, byteLength: number): void {
    if (start + byteLength > this.tableOffset) {
      fail('PLIST.MALFORMED', 'an object runs past the object area (truncated?)');
    }
  }

  private readObject(ref: number, depth: number): PlistValue {
    if (++this.objects > this.limits.maxObjects) {
      fail(
        'PLIST.TOO_MANY_OBJECTS',
        `the plist expands to more than ${this.limits.maxObjects} values`,
      );
    }

    const offset = this.offsetOf(ref);
    const marker = this.bytes[offset] ?? 0;
    const type = marker >> 4;
    const nibble = marker & 0x0f;

    switch (type) {
      case 0x0:
        if (marker === 0x08) return false;
        if (marker === 0x09) return true;

        return fail(
          'PLIST.MALFORMED',
          `unsupported singleton 0x${marker.toString(16)} (null/fill)`,
        );
      case 0x1:
        return this.readInteger(offset, nibble);
      case 0x2:
        this.checkSpan(offset + 1, 1 << nibble);
        if (nibble === 2) return this.view.getFloat32(offset + 1);
        if (nibble === 3) return this.view.getFloat64(offset + 1);

        return fail('PLIST.MALFORMED', 'a real is neither 4 nor 8 bytes');
      case 0x3: {
        if (marker !== 0x33) fail('PLIST.MALFORMED', 'a date is not 8 bytes');
        this.checkSpan(offset + 1, 8);

        const date = new Date(EPOCH_2001_MS + this.view.getFloat64(offset + 1) * 1000);

        if (Number.isNaN(date.getTime())) fail('PLIST.MALFORMED', 'a date is out of range');

        return date;
      }
      case 0x4: {
        const [length, start] = this.readLength(offset, nibble);

        this.checkSpan(start, length);

        return this.bytes.slice(start, start + length);
      }
      case 0x5: {
        const [length, start] = this.readLength(offset, nibble);

        this.checkSpan(start, length);

        return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, length).toString(
          'latin1',
        );
      }
      case 0x6: {
        const [length, start] = this.readLength(offset, nibble);

        this.checkSpan(start, length * 2);

        return this.readUtf16(start, length);
      }
      case 0x8:
        return fail('PLIST.MALFORMED', 'UID objects (keyed archives) are not supported');
      case 0xa:
        return this.readArray(ref, offset, nibble, depth + 1);
      case 0xd:
        return this.readDict(ref, offset, nibble, depth + 1);
      default:
        return fail('PLIST.MALFORMED', `unsupported object type 0x${type.toString(16)}`);
    }
  }

  private readInteger(offset: number, nibble: number): number | bigint {
    if (nibble > 4) fail('PLIST.MALFORMED', 'an integer is wider than 16 bytes');

    const size = 1 << nibble;
    const at = offset + 1;

    this.checkSpan(at, size);

    switch (size) {
      case 1:
        return this.view.getUint8(at);
      case 2:
        return this.view.getUint16(at);
      case 4:
        return this.view.getUint32(at);
      case 8:
        return normalizeInteger(this.view.getBigInt64(at));
      default:
        // 16 bytes: a signed 128-bit value; CoreFoundation uses it for integers above INT64_MAX.
        return normalizeInteger(
          (this.view.getBigInt64(at) << 64n) | this.view.getBigUint64(at + 8),
        );
    }
  }

  private readUtf16(start: number, units: number): string {
    const codes = new Array<number>(units);

    for (let i = 0; i < units; i++) codes[i] = this.view.getUint16(start + i * 2);

    let out = '';

    for (let i = 0; i < units; i += 8192) {
      out += String.fromCharCode(...codes.slice(i, i + 8192));
    }

    return out;
  }

  private enter(ref: number, depth: number): void {
    if (depth > this.limits.maxDepth) {
      fail('PLIST.TOO_DEEP', `containers are nested deeper than ${this.limits.maxDepth}`);
    }
    if (this.inProgress[ref] === 1) fail('PLIST.MALFORMED', 'a container contains itself');
    this.inProgress[ref] = 1;
  }

  private readArray(ref: number, offset: number, nibble: number, depth: number): PlistValue[] {
    this.enter(ref, depth);

    const [count, start] = this.readLength(offset, nibble);

    this.checkSpan(start, count * this.refSize);

    const array = new Array<PlistValue>(count);

    for (let i = 0; i < count; i++) {
      array[i] = this.readObject(this.readUint(start + i * this.refSize, this.refSize), depth);
    }

    this.inProgress[ref] = 0;

    return array;
  }

  private readDict(ref: number, offset: number, nibble: number, depth: number): PlistDict {
    this.enter(ref, depth);

    const [count, start] = this.readLength(offset, nibble);

    this.checkSpan(start, count * 2 * this.refSize);

    const dict: PlistDict = {};
    const valuesStart = start + count * this.refSize;

    for (let i = 0; i < count; i++) {
      const key = this.readObject(this.readUint(start + i * this.refSize, this.refSize), depth);

      if (typeof key !== 'string') fail('PLIST.MALFORMED', 'a dictionary key is not a string');
      if (key === '__proto__') fail('PLIST.FORBIDDEN_KEY', 'the key "__proto__" is refused');
      if (Object.hasOwn(dict, key))
        fail('PLIST.MALFORMED', `a dictionary repeats the key "${key}"`);

      dict[key] = this.readObject(
        this.readUint(valuesStart + i * this.refSize, this.refSize),
        depth,
      );
    }

    this.inProgress[ref] = 0;

    return dict;
  }
}
