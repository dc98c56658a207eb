import { createHash } from 'node:crypto';

// Everything a run must reproduce with the same --seed (UDIDs, serial numbers, which app install
// answers NotNow) is derived by hashing the seed with a key, never from a shared generator: the
// order in which concurrent devices ask would otherwise change the answers.

function digest(seed: string, key: readonly (string | number)[]): Buffer {
  return createHash('sha256')
    .update([seed, ...key].join('\u0000'))
    .digest();
}

/** A number in [0, 1) fixed by the seed and the key. */
export function seededFraction(seed: string, ...key: (string | number)[]): number {
  return digest(seed, key).readUInt32BE(0) / 2 ** 32;
}

/** `length` upper-case hex digits fixed by the seed and the key (at most 64). */
export function seededHex(length: number, seed: string, ...key: (string | number)[]): string {
  return digest(seed, key).toString('hex').slice(0, length).toUpperCase();
}

/** Picks one element, fixed by the seed and the key. */
export function seededPick<T>(items: readonly T[], seed: string, ...key: (string | number)[]): T {
  const item = items[Math.floor(seededFraction(seed, ...key) * items.length)];
  if (item === undefined) {
    throw new RangeError('seededPick needs a non-empty list');
  }

  return item;
}

/** A text drawn from `alphabet`, fixed by the seed and the key (at most 32 characters). */
export function seededText(
  length: number,
  alphabet: string,
  seed: string,
  ...key: (string | number)[]
): string {
  const bytes = digest(seed, key);

  return Array.from({ length }, (_, i) => alphabet[(bytes[i] ?? 0) % alphabet.length]).join('');
}

/** Timing jitter: a whole number of milliseconds in [min, max]. Not reproducible on purpose. */
export function jitter(min: number, max: number): number {
  return Math.round(min + Math.random() * (max - min));
}
