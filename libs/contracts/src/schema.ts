/**
 * A minimal runtime schema: every contract validates what it receives with one of these, so a
 * consumer never trusts a message's shape because of its routing key alone. Kept tiny on purpose:
 * `describe()` gives the same rules as JSON Schema for the AsyncAPI document, and the document's
 * tests check that the two agree.
 */
export type Schema<T> = {
  readonly kind: string;
  readonly optional: boolean;
  parse(value: unknown, path: string): T;
  describe(): JsonSchema;
};

/**
 * A JSON Schema, limited to keywords that draft-07 (the base of AsyncAPI 3.0 schemas) and draft
 * 2020-12 read the same way.
 */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** The extension keyword that marks a secret field; no event may carry one. */
export const SECRET_KEYWORD = 'x-secret';

export class ContractViolation extends Error {
  readonly code = 'CONTRACT.VIOLATION';

  constructor(
    readonly path: string,
    readonly expected: string,
  ) {
    super(`${path || 'message'}: expected ${expected}`);
  }
}

type Infer<S> = S extends Schema<infer T> ? T : never;
type Shape = Record<string, Schema<unknown>>;
type RequiredKeys<S extends Shape> = {
  [K in keyof S]: S[K]['optional'] extends true ? never : K;
}[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

function scalar<T>(
  kind: string,
  test: (value: unknown) => boolean,
  described: JsonSchema,
): Schema<T> {
  return {
    kind,
    optional: false,
    parse(value, path) {
      if (!test(value)) {
        throw new ContractViolation(path, kind);
      }

      return value as T;
    },
    describe: () => ({ ...described }),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const string = (): Schema<string> =>
  scalar('string', (v) => typeof v === 'string', { type: 'string' });
export const nonEmptyString = (): Schema<string> =>
  scalar('non-empty string', (v) => typeof v === 'string' && v.length > 0, {
    type: 'string',
    minLength: 1,
  });
// The bounds say what Number.isSafeInteger says: a larger integer loses precision in JSON.parse.
export const integer = (): Schema<number> =>
  scalar('integer', (v) => Number.isSafeInteger(v), {
    type: 'integer',
    minimum: Number.MIN_SAFE_INTEGER,
    maximum: Number.MAX_SAFE_INTEGER,
  });
export const boolean = (): Schema<boolean> =>
  scalar('boolean', (v) => typeof v === 'boolean', { type: 'boolean' });
/** Producers write ISO 8601 (`toISOString()`); receivers also take anything `Date.parse` reads. */
export const timestamp = (): Schema<string> =>
  scalar('date-time string', (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)), {
    type: 'string',
    format: 'date-time',
  });
/** Bytes travel as base64 text inside JSON messages. */
export const base64 = (): Schema<string> =>
  scalar('base64 string', (v) => typeof v === 'string' && BASE64.test(v), {
    type: 'string',
    contentEncoding: 'base64',
    pattern: BASE64.source,
  });
/** Free-form JSON facts (inventory extracted from a report); never a secret. */
export const facts = (): Schema<Record<string, unknown>> =>
  scalar('object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    type: 'object',
    additionalProperties: true,
    description: 'Free-form facts: their keys are not part of the contract.',
  });

export function oneOf<T extends string>(...values: readonly T[]): Schema<T> {
  return scalar<T>(`one of ${values.join(', ')}`, (v) => values.includes(v as T), {
    type: 'string',
    enum: [...values],
  });
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> & { optional: true } {
  return {
    kind: inner.kind,
    optional: true,
    parse: (value, path) =>
      value === undefined || value === null ? undefined : inner.parse(value, path),
    describe: inner.describe,
  };
}

/**
 * Marks a field whose value is a secret (a bootstrap token, a bypass code, a profile with a
 * password or a private key). Parsing is unchanged; the mark lets the document and its tests keep
 * secrets out of events, which every subscriber receives and may log or store.
 */
export function secret<S extends Schema<unknown>>(inner: S): S {
  return {
    ...inner,
    describe: () => ({
      ...inner.describe(),
      [SECRET_KEYWORD]: true,
      description: 'Secret: travels only in a request or its reply, never in an event.',
    }),
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
    // parse() drops unknown properties instead of refusing the message, so the schema lets them
    // through too, and says they are dropped.
    describe: () => {
      const required = Object.keys(shape).filter((key) => !shape[key]!.optional);

      return {
        type: 'object',
        description: 'Unknown properties are accepted and dropped on receipt.',
        properties: Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, s.describe()])),
        ...(required.length > 0 ? { required } : {}),
        additionalProperties: true,
      };
    },
  };
}
