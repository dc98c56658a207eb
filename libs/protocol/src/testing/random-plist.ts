import type { PlistDict, PlistValue } from '../plist-types.js';

/** mulberry32: a small seeded PRNG, so property cases are reproducible from their seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;

    let t = state;

    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);

    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  'a',
  'UDID',
  ' ',
  '\t',
  '\n',
  '\r\n',
  '&',
  '<',
  '>',
  '"',
  "'",
  ']]>',
  '&amp;',
  'é',
  '日本語',
  '😀',
  'ü',
  '0',
  'constructor',
  '-',
];

export interface RandomPlistOptions {
  /** XML carries dates to the second only. */
  wholeSecondDates: boolean;
  /** Only values the `plist` package also represents exactly (no bigint, no NaN/-0/Infinity). */
  portableOnly?: boolean;
}

/** Generates a random nested plist value, depth-bounded. */
export function randomPlistValue(
  random: () => number,
  options: RandomPlistOptions,
  depth = 0,
): PlistValue {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (max: number): number => Math.floor(random() * max);
  const kinds = depth >= 4 ? 7 : 9;

  switch (int(kinds)) {
    case 0: {
      let text = '';
      const parts = int(6);

      for (let i = 0; i < parts; i++) text += pick(FRAGMENTS);

      return text;
    }
    case 1:
      return pick([
        0,
        1,
        -1,
        14,
        15,
        255,
        256,
        65535,
        65536,
        -909,
        2 ** 31,
        2 ** 32,
        23048830844,
        Number.MAX_SAFE_INTEGER,
        Number.MIN_SAFE_INTEGER,
        int(1e9) - 5e8,
      ]);
    case 2: {
      const reals = [0.5, -1.25, 60.977592468261719, 1e-7, Math.PI];

      // 1.5e300 is integral: the plist package writes it as <integer>1.5e+300</integer>.
      return options.portableOnly
        ? pick(reals)
        : pick([...reals, 1.5e300, Number.NaN, Infinity, -Infinity, -0]);
    }
    case 3:
      if (options.portableOnly) return random() < 0.5;

      return pick([
        2n ** 53n + 1n,
        2n ** 63n - 1n,
        2n ** 63n,
        2n ** 64n - 1n,
        -(2n ** 63n),
        -(2n ** 53n) - 1n,
      ]);
    case 4:
      return random() < 0.5;
    case 5: {
      const seconds = int(4_000_000_000) - 1_000_000_000;
      const ms = options.wholeSecondDates ? 0 : int(1000);

      return new Date(seconds * 1000 + ms);
    }
    case 6: {
      const bytes = new Uint8Array(pick([0, 1, 14, 15, 16, 32, 200, 300]));

      for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);

      return bytes;
    }
    case 7: {
      const items: PlistValue[] = [];
      const count = pick([0, 1, 3, 15, 16]);

      for (let i = 0; i < count; i++) items.push(randomPlistValue(random, options, depth + 1));

      return items;
    }
    default: {
      const dict: PlistDict = {};
      const count = pick([0, 1, 2, 5, 16]);

      for (let i = 0; i < count; i++) {
        const key = pick(['', 'UDID', 'constructor', 'toString', 'a&b', 'ключ', `k${int(50)}`]);

        dict[key] = randomPlistValue(random, options, depth + 1);
      }

      return dict;
    }
  }
}
