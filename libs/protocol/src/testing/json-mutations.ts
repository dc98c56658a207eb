import type { JsonValue } from '../json-access.js';
import { ProtocolError, type ProtocolErrorCode } from '../protocol.errors.js';

/** Values that stand in for any member: each is the wrong type somewhere. */
export const HOSTILE_JSON_VALUES: unknown[] = [null, [], {}, '', 'x', 0, -1.5, true, [null], [{}]];

/** Every copy of `value` with exactly one member (at any depth) replaced by `replacement`. */
export function* replaceEachMember(value: unknown, replacement: unknown): Generator<unknown> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const copy = (): unknown[] => [...(value as unknown[])];
      const direct = copy();

      direct[i] = replacement;
      yield direct;
      for (const inner of replaceEachMember(value[i], replacement)) {
        const nested = copy();

        nested[i] = inner;
        yield nested;
      }
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) {
      const record = value as Record<string, unknown>;

      yield { ...record, [key]: replacement };
      for (const inner of replaceEachMember(record[key], replacement)) {
        yield { ...record, [key]: inner };
      }
    }
  }
}

/**
 * Feeds `read` every one-member mutation of `document` and returns how many it refused; throws
 * when anything other than a ProtocolError with `code` escapes (a TypeError, say).
 */
export function countRefusedMutations(
  document: JsonValue,
  read: (input: unknown) => unknown,
  code: ProtocolErrorCode,
): number {
  let refused = 0;

  for (const replacement of HOSTILE_JSON_VALUES) {
    for (const mutated of replaceEachMember(document, replacement)) {
      try {
        read(mutated);
      } catch (error) {
        if (!(error instanceof ProtocolError) || error.code !== code) {
          throw new Error(`unexpected ${String(error)} for ${JSON.stringify(mutated)}`, {
            cause: error,
          });
        }
        refused++;
      }
    }
  }

  return refused;
}
