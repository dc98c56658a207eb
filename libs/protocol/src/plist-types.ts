/**
 * A decoded property-list value.
 *
 * - `<integer>`: `number` when it is a safe integer, otherwise `bigint` (never rounded).
 * - `<real>`: `number`, including `NaN` and `±Infinity`. An integral real such as
 *   `<real>2</real>` decodes to `2`, indistinguishable from `<integer>2</integer>`; re-encoding
 *   writes it as an integer.
 * - `<data>`: `Uint8Array` holding the raw bytes (a copy, never a view of the request body).
 * - `<date>`: `Date`.
 * - `<dict>`: a plain object; see {@link PlistDict}.
 */
export type PlistValue =
  string | number | bigint | boolean | Date | Uint8Array | PlistValue[] | PlistDict;

/**
 * A decoded `<dict>`. Decoded dictionaries are plain objects; a `__proto__` key is refused while
 * decoding (`PLIST.FORBIDDEN_KEY`), so no key can reach an object's prototype.
 */
export interface PlistDict {
  [key: string]: PlistValue;
}

/** Resource limits for {@link decodePlist}; every field has a default. */
export interface PlistLimits {
  /** Largest accepted body in bytes (`PLIST.TOO_LARGE`). A 5 MB InstalledApplicationList fits. */
  maxBytes: number;
  /** Deepest accepted nesting of `<dict>`/`<array>` containers (`PLIST.TOO_DEEP`). */
  maxDepth: number;
  /**
   * Most values decoded from one body (`PLIST.TOO_MANY_OBJECTS`). Binary plists may reference one
   * object many times; this caps the expansion.
   */
  maxObjects: number;
}

/** 8 MiB, 64 levels, one million values. */
export const DEFAULT_PLIST_LIMITS: Readonly<PlistLimits> = Object.freeze({
  maxBytes: 8 * 1024 * 1024,
  maxDepth: 64,
  maxObjects: 1_000_000,
});

/** True for a decoded `<dict>` (a plain object, not an array, Date or bytes). */
export function isPlistDict(value: unknown): value is PlistDict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
  );
}

/** A short, log-safe description of a value's plist type, for error messages. */
export function describePlistType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'bigint') return 'an integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a real';
  if (typeof value === 'boolean') return 'a boolean';
  if (value instanceof Date) return 'a date';
  if (value instanceof Uint8Array) return 'data';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'a dictionary';

  return typeof value;
}
