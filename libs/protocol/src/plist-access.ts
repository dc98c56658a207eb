import { ProtocolError, type ProtocolErrorCode } from './protocol.errors.js';
import { describePlistType, isPlistDict, type PlistDict, type PlistValue } from './plist-types.js';

// Typed reads of dictionary keys. The strict readers throw a ProtocolError with the caller's code
// when a key we rely on has the wrong type; the lenient ones return undefined and let the raw
// dictionary keep the value.

export class DictReader {
  constructor(
    readonly dict: PlistDict,
    private readonly code: ProtocolErrorCode,
    private readonly context: string,
  ) {}

  private wrongType(key: string, expected: string): never {
    throw new ProtocolError(
      this.code,
      `${this.context}: ${key} must be ${expected}, got ${describePlistType(this.dict[key])}`,
    );
  }

  private missing(key: string): never {
    throw new ProtocolError(this.code, `${this.context}: the required key ${key} is missing`);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.dict, key);
  }

  get(key: string): PlistValue | undefined {
    return Object.hasOwn(this.dict, key) ? this.dict[key] : undefined;
  }

  optionalString(key: string): string | undefined {
    const value = this.get(key);

    if (value === undefined || typeof value === 'string') return value;

    return this.wrongType(key, 'a string');
  }

  requiredString(key: string): string {
    return this.optionalString(key) ?? this.missing(key);
  }

  /** Empty strings count as absent: devices never mean "" as an identifier. */
  optionalIdentifier(key: string): string | undefined {
    const value = this.optionalString(key);

    return value === '' ? undefined : value;
  }

  lenientString(key: string): string | undefined {
    const value = this.get(key);

    return typeof value === 'string' ? value : undefined;
  }

  optionalBoolean(key: string): boolean | undefined {
    const value = this.get(key);

    if (value === undefined || typeof value === 'boolean') return value;

    return this.wrongType(key, 'a boolean');
  }

  optionalData(key: string): Uint8Array | undefined {
    const value = this.get(key);

    if (value === undefined || value instanceof Uint8Array) return value;

    return this.wrongType(key, 'data');
  }

  requiredData(key: string): Uint8Array {
    return this.optionalData(key) ?? this.missing(key);
  }

  optionalDict(key: string): PlistDict | undefined {
    const value = this.get(key);

    if (value === undefined || isPlistDict(value)) return value;

    return this.wrongType(key, 'a dictionary');
  }

  requiredDict(key: string): PlistDict {
    return this.optionalDict(key) ?? this.missing(key);
  }
}

export function requireDict(
  value: PlistValue,
  code: ProtocolErrorCode,
  context: string,
): PlistDict {
  if (!isPlistDict(value)) {
    throw new ProtocolError(
      code,
      `${context} must be a dictionary, got ${describePlistType(value)}`,
    );
  }

  return value;
}
