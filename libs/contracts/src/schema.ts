/**
 * A minimal runtime schema: every contract validates what it receives with one of these, so a
 * consumer never trusts a message's shape because of its routing key alone. Kept tiny on purpose:
 * the same descriptions later feed the AsyncAPI document.
 */
export type Schema<T> = {
  readonly kind: string;
  readonly optional: boolean;
  parse(value: unknown, path: string): T;
  describe(): Record<string, unknown>;
};

export class ContractViolation extends Error {
  readonly code = 'CONTRACT.VIOLATION';

  constructor(readonly path: string, readonly expected: string) {
    super(`${path || 'message'}: expected ${expected}`);
  }
}

type Infer<S> = S extends Schema<infer T> ? T : never;
type Shape = Record<string, Schema<unknown>>;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K]['optional'] extends true ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

function scalar<T>(kind: string, test: (value: unknown) => boolean): Schema<T> {
  return {
    kind,
    optional: false,
    parse(value, path) {
      if (!test(value)) {
        throw new ContractViolation(path, kind);
      }

      return value as T;
    },
    describe: () => ({ type: kind }),
  };
}

export const string = (): Schema<string> => scalar('string', (v) => typeof v === 'string');
export const nonEmptyString = (): Schema<string> =>
  scalar('non-empty string', (v) => typeof v === 'string' && v.length > 0);
export const integer = (): Schema<number> => scalar('integer', (v) => Number.isSafeInteger(v));
export const boolean = (): Schema<boolean> => scalar('boolean', (v) => typeof v === 'boolean');
export const timestamp = (): Schema<string> =>
  scalar('date-time string', (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)));
/** Bytes travel as base64 text inside JSON messages. */
export const base64 = (): Schema<string> =>
  scalar('base64 string', (v) => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v));
/** Free-form JSON facts (inventory extracted from a report); never a secret. */
export const facts = (): Schema<Record<string, unknown>> =>
  scalar('object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v));

export function oneOf<T extends string>(...values: readonly T[]): Schema<T> {
  const schema = scalar<T>(`one of ${values.join(', ')}`, (v) => values.includes(v as T));

  return { ...schema, describe: () => ({ type: 'string', enum: [...values] }) };
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> & { optional: true } {
  return {
    kind: inner.kind,
    optional: true,
    parse: (value, path) => (value === undefined || value === null ? undefined : inner.parse(value, path)),
    describe: inner.describe,
  };
}

export function array<T>(item: Schema<T>): Schema<T[]> {
  return {
    kind: 'array',
    optional: false,
    parse(value, path) {
      if (!Array.isArray(value)) {
        throw new ContractViolation(path, 'array');
      }

      return value.map((entry, index) => item.parse(entry, `${path}[${index}]`));
    },
    describe: () => ({ type: 'array', items: item.describe() }),
  };
}

export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  return {
    kind: 'object',
    optional: false,
    parse(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ContractViolation(path, 'object');
      }
      const input = value as Record<string, unknown>;
      const output: Record<string, unknown> = {};
      for (const [key, schema] of Object.entries(shape)) {
        const parsed = schema.parse(input[key], path ? `${path}.${key}` : key);
        if (parsed !== undefined) {
          output[key] = parsed;
        }
      }

      return output as ObjectOf<S>;
    },
    describe: () => ({
      type: 'object',
      properties: Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, s.describe()])),
      required: Object.entries(shape)
        .filter(([, s]) => !s.optional)
        .map(([k]) => k),
    }),
  };
}
