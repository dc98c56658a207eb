import { ProtocolError, type ProtocolErrorCode } from './protocol.errors.js';

/** A parsed JSON value (what `JSON.parse` returns). */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** A parsed JSON object. Keys are own properties; `__proto__` from `JSON.parse` is an own key. */
export interface JsonObject {
  [key: string]: JsonValue;
}

// Only plain objects count: a Date, a Buffer or a class instance handed in as "JSON" is refused
// like any other wrong type.
export function isJsonObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;

  const prototype: unknown = Object.getPrototypeOf(value);

  return prototype === Object.prototype || prototype === null;
}

/** A short, log-safe description of a JSON value's type, for error messages. */
export function describeJsonType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  if (Array.isArray(value)) return 'an array';
  if (isJsonObject(value)) return 'an object';

  return typeof value === 'object' ? 'a non-JSON object' : typeof value;
}

/** Keys and serial numbers come from the wire; keep them short in messages and logs. */
export function quoteKey(key: string): string {
  return JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Text and bytes are parsed as JSON (UTF-8, a leading BOM is dropped); anything else is taken as
 * an already parsed value. The engine's SyntaxError becomes the cause only: its message quotes
 * the input.
 */
export function parseJsonInput(input: unknown, code: ProtocolErrorCode, context: string): unknown {
  let text: string;

  if (typeof input === 'string') text = input;
  else if (input instanceof Uint8Array) {
    try {
      text = utf8.decode(input);
    } catch (cause) {
      throw new ProtocolError(code, `${context} is not valid UTF-8`, { cause });
    }
  } else return input;

  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ProtocolError(code, `${context} is not valid JSON`, { cause });
  }
}

export function requireJsonObject(
  value: unknown,
  code: ProtocolErrorCode,
  context: string,
): JsonObject {
  if (!isJsonObject(value)) {
    throw new ProtocolError(
      code,
      `${context} must be a JSON object, got ${describeJsonType(value)}`,
    );
  }

  return value;
}

// Typed reads of JSON object members. A known key with the wrong type (null included) is an
// error naming the key; an absent key is undefined; unknown keys are never looked at.
export class JsonReader {
  constructor(
    readonly object: JsonObject,
    private readonly code: ProtocolErrorCode,
    private readonly context: string,
  ) {}

  private wrongType(key: string, expected: string, value: unknown): never {
    throw new ProtocolError(
      this.code,
      `${this.context}: ${key} must be ${expected}, got ${describeJsonType(value)}`,
    );
  }

  private missing(key: string): never {
    throw new ProtocolError(this.code, `${this.context}: the required key ${key} is missing`);
  }

  get(key: string): unknown {
    return Object.hasOwn(this.object, key) ? this.object[key] : undefined;
  }

  optionalString(key: string): string | undefined {
    const value = this.get(key);

    if (value === undefined || typeof value === 'string') return value;

    return this.wrongType(key, 'a string', value);
  }

  requiredString(key: string): string {
    return this.optionalString(key) ?? this.missing(key);
  }

  optionalBoolean(key: string): boolean | undefined {
    const value = this.get(key);

    if (value === undefined || typeof value === 'boolean') return value;

    return this.wrongType(key, 'a boolean', value);
  }

  optionalNumber(key: string): number | undefined {
    const value = this.get(key);

    if (value === undefined || (typeof value === 'number' && Number.isFinite(value))) return value;

    return this.wrongType(key, 'a number', value);
  }

  optionalObject(key: string): JsonObject | undefined {
    const value = this.get(key);

    if (value === undefined || isJsonObject(value)) return value;

    return this.wrongType(key, 'an object', value);
  }

  requiredObject(key: string): JsonObject {
    return this.optionalObject(key) ?? this.missing(key);
  }

  optionalArray(key: string): unknown[] | undefined {
    const value = this.get(key);

    if (value === undefined || Array.isArray(value)) return value as unknown[] | undefined;

    return this.wrongType(key, 'an array', value);
  }

  optionalStringArray(key: string): string[] | undefined {
    const list = this.optionalArray(key);

    list?.forEach((item, index) => {
      if (typeof item !== 'string') this.wrongType(`${key}[${index}]`, 'a string', item);
    });

    return list as string[] | undefined;
  }

  /** Each element must be an object; `read` gets it with its index for error messages. */
  optionalObjectArray<T>(
    key: string,
    read: (item: JsonObject, index: number) => T,
  ): T[] | undefined {
    return this.optionalArray(key)?.map((item, index) => {
      if (!isJsonObject(item)) return this.wrongType(`${key}[${index}]`, 'an object', item);

      return read(item, index);
    });
  }
}

// Copies the defined entries only, so absent keys stay absent (toEqual-friendly, JSON-friendly).
export function definedOnly<T extends object>(base: T, extra: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };

  for (const [key, value] of Object.entries(extra)) if (value !== undefined) out[key] = value;

  return out as T;
}
