import { isPlistDict } from '@turnaround/protocol';

/** One element of a report's ErrorChain, as the CommandFailed event carries it. */
export interface ReportedError {
  code?: number;
  domain?: string;
  description?: string;
}

const MAX_DEPTH = 32;

/**
 * The ErrorChain as {code, domain, description}, top-level error first. Tolerant (B19): entries
 * that are not dictionaries are skipped and mistyped fields are left out, never fatal.
 */
export function errorsFromChain(chain: unknown): ReportedError[] {
  if (!Array.isArray(chain)) {
    return [];
  }

  return chain.filter(isPlistDict).map((entry) => {
    const code = integerOf(entry.ErrorCode ?? entry.code);
    const domain = entry.ErrorDomain ?? entry.domain;
    const description =
      entry.LocalizedDescription ?? entry.USEnglishDescription ?? entry.description;

    return {
      ...(code !== undefined ? { code } : {}),
      ...(typeof domain === 'string' ? { domain } : {}),
      ...(typeof description === 'string' ? { description } : {}),
    };
  });
}

/**
 * Makes extracted inventory safe to travel as JSON: NaN and ±Infinity become null, integers
 * beyond 2^53 become decimal strings, dates ISO strings. Raw bytes are dropped: certificates and
 * tokens have no place in an inventory event.
 */
export function toJsonFacts(value: unknown): Record<string, unknown> | undefined {
  const converted = toJson(value, 0);

  return isPlistDict(converted) ? converted : undefined;
}

function toJson(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH || value === undefined || value instanceof Uint8Array) {
    return undefined;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : null;
  }
  if (typeof value === 'bigint') {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? null : value.toISOString();
  }
  if (Array.isArray(value)) {
    return value.map((item) => toJson(item, depth + 1)).filter((item) => item !== undefined);
  }
  if (isPlistDict(value)) {
    const output: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = toJson(item, depth + 1);
      if (converted !== undefined) {
        output[key] = converted;
      }
    }

    return output;
  }

  return undefined;
}

function integerOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    return value;
  }
  if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) {
    return Number(value);
  }

  return undefined;
}
