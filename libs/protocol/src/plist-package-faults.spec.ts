import { jest } from '@jest/globals';
import * as plist from 'plist';

import { decodePlist, encodePlistBinary, encodePlistXml } from './plist-codec.js';
import { PlistError } from './protocol.errors.js';
import { expectProtocolError } from './testing/expect-error.js';
import { xmlPlist } from './testing/xml.js';

// Documents what the raw `plist` package (v5) does with the inputs of field notes B20/B21 and
// neighbouring cases, next to what our codec does. If an upgrade of `plist` changes one of these
// behaviours, the first assertion of that test fails and tells us to re-check our choice.

const BIG = xmlPlist(
  '<dict><key>max</key><integer>18446744073709551615</integer>' +
    '<key>above</key><integer>9007199254740993</integer></dict>',
);

function silenceXmldom(): { messages: () => string } {
  const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);

  return {
    messages: () => [...error.mock.calls, ...warn.mock.calls].flat().map(String).join('\n'),
  };
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('plist package v5 compared with our codec', () => {
  it('XML parse rounds integers above 2^53 (B21 d); decodePlist keeps them exact', () => {
    const theirs = plist.parse(BIG.toString()) as Record<string, unknown>;

    expect(theirs['max']).toBe(18446744073709552000);
    expect(theirs['above']).toBe(9007199254740992);
    expect(decodePlist(BIG)).toEqual({ max: 2n ** 64n - 1n, above: 2n ** 53n + 1n });
  });

  it('XML parse keeps an unknown entity as literal text and only logs; decodePlist rejects it', () => {
    const console = silenceXmldom();
    const body = xmlPlist('<string>a&x;b</string>');

    expect(plist.parse(body.toString())).toBe('a&x;b');
    expect(console.messages()).toContain('xmldom');
    expectProtocolError(() => decodePlist(body), 'PLIST.MALFORMED');
  });

  it('XML parse turns a key without a value into "" (B20); decodePlist rejects the dictionary', () => {
    const body = xmlPlist('<dict><key>a</key><string>1</string><key>b</key></dict>');

    expect(plist.parse(body.toString())).toEqual({ a: '1', b: '' });
    expectProtocolError(() => decodePlist(body), 'PLIST.MALFORMED');
  });

  it('XML parse handles empty elements and empty keys like decodePlist (B20)', () => {
    const body = xmlPlist(
      '<dict><key/><string>x</string><key>s</key><string/><key>d</key><data/>' +
        '<key>n</key><dict/><key>OSVersion</key><string>17.4</string></dict>',
    );
    const expected = { '': 'x', s: '', d: new Uint8Array(0), n: {}, OSVersion: '17.4' };

    expect(plist.parse(body.toString())).toEqual(expected);
    expect(decodePlist(body)).toEqual(expected);
  });

  it('XML parse ignores a DOCTYPE internal subset and returns the entity reference as text; decodePlist refuses the DTD', () => {
    const console = silenceXmldom();
    const body = Buffer.from(
      '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY e "boom">]><plist><string>&e;</string></plist>',
    );

    expect(plist.parse(body.toString())).toBe('&e;');
    expect(console.messages()).toContain('xmldom');
    expectProtocolError(() => decodePlist(body), 'PLIST.FORBIDDEN_DTD');
  });

  it('XML parse throws a plain Error for __proto__ keys; decodePlist throws PLIST.FORBIDDEN_KEY', () => {
    const body = xmlPlist('<dict><key>__proto__</key><dict/></dict>');

    expect(() => plist.parse(body.toString())).toThrow(/prototype pollution/);
    expectProtocolError(() => decodePlist(body), 'PLIST.FORBIDDEN_KEY');
  });

  it('parse fails on a BOM (B21 c) and treats every Uint8Array as binary; decodePlist detects both', () => {
    const console = silenceXmldom();
    const body = xmlPlist('<string>a</string>');

    expect(() => plist.parse(`\ufeff${body.toString()}`)).toThrow();
    expect(() => plist.parse(new Uint8Array(body))).toThrow(/bad magic/);
    expect(console.messages()).toContain('xmldom');
    expect(decodePlist(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]))).toBe('a');
    expect(decodePlist(new Uint8Array(body))).toBe('a');
  });

  it('parseBinary rounds 64-bit integers; decodePlist returns bigints', () => {
    const binary = encodePlistBinary({ above: 2n ** 53n + 1n, max: 2n ** 63n - 1n });

    expect(plist.parseBinary(binary)).toEqual({
      above: 9007199254740992,
      max: 9223372036854775807,
    });
    expect(decodePlist(binary)).toEqual({ above: 2n ** 53n + 1n, max: 2n ** 63n - 1n });
  });

  it('parseBinary throws an uncoded RangeError on truncated input; decodePlist throws PlistError', () => {
    const binary = encodePlistBinary({ a: 'b' });

    expect(() => plist.parseBinary(binary.subarray(0, 20))).toThrow(RangeError);
    expect(() => decodePlist(binary.subarray(0, 20))).toThrow(PlistError);
  });

  it('buildBinary writes 2^64-1 as 0 and 2^53+1 as 2^53; encodePlistBinary writes them exactly', () => {
    // The package's own PlistValue type has no bigint, though its builders handle one.
    const value = { max: 2n ** 64n - 1n, above: 2n ** 53n + 1n } as unknown as plist.PlistValue;
    const theirs = Buffer.from(plist.buildBinary(value));

    expect(decodePlist(theirs)).toEqual({ max: 0, above: 2n ** 53n });
    expect(decodePlist(encodePlistBinary({ max: 2n ** 64n - 1n, above: 2n ** 53n + 1n }))).toEqual({
      max: 2n ** 64n - 1n,
      above: 2n ** 53n + 1n,
    });
  });

  it('buildBinary writes integers above 2^32 as reals; encodePlistBinary keeps them integers', () => {
    const theirs = Buffer.from(plist.buildBinary(23048830844));

    expect(theirs[8]).toBe(0x23);
    expect(encodePlistBinary(23048830844)[8]).toBe(0x13);
  });

  it('buildBinary turns a dictionary {UID: n} into a keyed-archive UID; encodePlistBinary keeps the dictionary', () => {
    const theirs = Buffer.from(plist.buildBinary({ UID: 5 }));

    expect(theirs[8]).toBe(0x80);
    expect(decodePlist(encodePlistBinary({ UID: 5 }))).toEqual({ UID: 5 });
  });

  it('build writes bytes as <data> once and bigints exactly, like encodePlistXml (B02)', () => {
    const theirs = plist.build({
      buf: Buffer.from('<?xml'),
      u8: new Uint8Array([0x30, 0x82]),
      big: 2n ** 64n - 1n,
    } as unknown as plist.PlistValue);

    expect(theirs).toContain('<data>PD94bWw=</data>');
    expect(theirs).toContain('<data>MII=</data>');
    expect(theirs).toContain('<integer>18446744073709551615</integer>');
    expect(encodePlistXml({ buf: Buffer.from('<?xml') }).toString()).toContain(
      '<data>PD94bWw=</data>',
    );
  });

  it('build writes large integral numbers as <integer>1e+21</integer>, which XML parse reads as 1', () => {
    const theirs = plist.build({ n: 1e21 });

    expect(theirs).toContain('<integer>1e+21</integer>');
    expect(plist.parse(theirs)).toEqual({ n: 1 });
    expect(encodePlistXml({ n: 1e21 }).toString()).toContain('<real>1e+21</real>');
    expect(() => decodePlist(Buffer.from(theirs))).toThrow(PlistError);
  });

  it('build silently drops null and undefined values; encodePlistXml refuses them', () => {
    const theirs = plist.build({ a: null, b: undefined, c: 1 } as unknown as plist.PlistValue);

    expect(plist.parse(theirs)).toEqual({ c: 1 });
    expectProtocolError(
      () => encodePlistXml({ a: null } as unknown as Record<string, never>),
      'PLIST.UNENCODABLE',
    );
  });

  it('build writes NaN as "NaN" and 1.0 as an integer; decodePlist reads "NaN" too', () => {
    const theirs = plist.build({ nan: Number.NaN, one: 1.0 });

    expect(theirs).toContain('<real>NaN</real>');
    expect(theirs).toContain('<integer>1</integer>');
    expect(decodePlist(Buffer.from(theirs))).toEqual({ nan: Number.NaN, one: 1 });
  });
});
