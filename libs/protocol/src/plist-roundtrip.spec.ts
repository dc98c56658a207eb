import * as plist from 'plist';

import { decodePlist, encodePlistBinary, encodePlistXml } from './plist-codec.js';
import type { PlistValue } from './plist-types.js';
import { listFixtures, readFixture } from './testing/fixtures.js';
import { randomPlistValue, seededRandom } from './testing/random-plist.js';

const CASES = 300;

describe('plist codec round trip', () => {
  it.each([
    ['XML', encodePlistXml, true],
    ['binary', encodePlistBinary, false],
  ] as const)(
    'keeps %s-encoded random values identical after decoding',
    (_, encode, wholeSeconds) => {
      for (let seed = 1; seed <= CASES; seed++) {
        const value = randomPlistValue(seededRandom(seed), { wholeSecondDates: wholeSeconds });
        let decoded: PlistValue | undefined;

        try {
          decoded = decodePlist(encode(value));
        } catch (error) {
          throw new Error(`seed ${seed} failed: ${String(error)}`, { cause: error });
        }
        expect({ seed, decoded }).toEqual({ seed, decoded: value });
      }
    },
  );

  it('generates cases that cover bigints, data over 15 bytes and non-ASCII text', () => {
    const seen = new Set<string>();

    for (let seed = 1; seed <= CASES; seed++) {
      JSON.stringify(randomPlistValue(seededRandom(seed), { wholeSecondDates: false }), (_, v) => {
        if (typeof v === 'bigint') seen.add('bigint');
        else if (v instanceof Uint8Array && v.length > 15) seen.add('long data');
        else if (typeof v === 'string' && /[^\x00-\x7f]/.test(v)) seen.add('unicode');

        return typeof v === 'bigint' ? v.toString() : v;
      });
    }

    expect([...seen].sort()).toEqual(['bigint', 'long data', 'unicode']);
  });

  it('agrees with the plist package on portable values, both ways, in XML', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const value = randomPlistValue(seededRandom(seed), {
        wholeSecondDates: true,
        portableOnly: true,
      });

      expect({ seed, theirs: plist.parse(encodePlistXml(value).toString()) }).toEqual({
        seed,
        theirs: value,
      });
      expect({
        seed,
        ours: decodePlist(Buffer.from(plist.build(value as plist.PlistValue))),
      }).toEqual({
        seed,
        ours: value,
      });
    }
  });

  it('agrees with the plist package on portable values, both ways, in binary', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const value = randomPlistValue(seededRandom(seed), {
        wholeSecondDates: false,
        portableOnly: true,
      });

      expect({ seed, theirs: plist.parseBinary(encodePlistBinary(value)) }).toEqual({
        seed,
        theirs: value,
      });
      expect({ seed, ours: decodePlist(plist.buildBinary(value as plist.PlistValue)) }).toEqual({
        seed,
        ours: value,
      });
    }
  });

  it.each(['checkin', 'report', 'command', 'profile'] as const)(
    'keeps every %s fixture identical through XML and binary re-encoding',
    (kind) => {
      for (const name of listFixtures(kind)) {
        const value = decodePlist(readFixture(kind, name));

        expect({ name, xml: decodePlist(encodePlistXml(value)) }).toEqual({ name, xml: value });
        expect({ name, binary: decodePlist(encodePlistBinary(value)) }).toEqual({
          name,
          binary: value,
        });
      }
    },
  );
});
