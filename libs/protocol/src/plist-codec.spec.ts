import { decodePlist, encodePlistBinary, encodePlistXml } from './plist-codec.js';
import type { PlistDict, PlistValue } from './plist-types.js';
import { PlistError } from './protocol.errors.js';
import { asciiObject, assembleBplist } from './testing/bplist-assembler.js';
import { expectProtocolError } from './testing/expect-error.js';
import { readFixture } from './testing/fixtures.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const decodeXml = (body: string): PlistValue => decodePlist(xmlPlist(body));
const dict = (value: PlistValue): PlistDict => value as PlistDict;

describe('decodePlist (XML)', () => {
  it('decodes every plist type to its JavaScript value', () => {
    const value = decodeXml(
      dictXml({
        s: '<string>hello</string>',
        i: '<integer>-909</integer>',
        r: '<real>60.977592468261719</real>',
        t: '<true/>',
        f: '<false/>',
        d: '<date>2016-11-03T03:12:26Z</date>',
        b: '<data>YXBwbGU=</data>',
        a: '<array><integer>1</integer><string>x</string></array>',
        n: '<dict><key>k</key><string>v</string></dict>',
      }),
    );

    expect(value).toEqual({
      s: 'hello',
      i: -909,
      r: 60.977592468261719,
      t: true,
      f: false,
      d: new Date('2016-11-03T03:12:26Z'),
      b: new Uint8Array(Buffer.from('apple')),
      a: [1, 'x'],
      n: { k: 'v' },
    });
  });

  it('returns data as an independent plain Uint8Array, not a Buffer view', () => {
    const value = dict(decodeXml(dictXml({ b: '<data>AQID</data>' })));
    const data = value['b'] as Uint8Array;

    expect(Buffer.isBuffer(data)).toBe(false);
    expect(data.byteOffset).toBe(0);
    expect(data.buffer.byteLength).toBe(3);
  });

  describe('empty elements (B20)', () => {
    it('parses empty elements as empty values of their type', () => {
      const value = decodeXml(
        dictXml({
          s1: '<string/>',
          s2: '<string></string>',
          d1: '<data/>',
          d2: '<data></data>',
          dict: '<dict/>',
          arr: '<array/>',
          arr2: '<array></array>',
        }),
      );

      expect(value).toEqual({
        s1: '',
        s2: '',
        d1: new Uint8Array(0),
        d2: new Uint8Array(0),
        dict: {},
        arr: [],
        arr2: [],
      });
    });

    it('keeps every later key on its own value after empty strings (Authenticate scenario)', () => {
      const value = decodeXml(
        dictXml({
          BuildVersion: '<string/>',
          DeviceName: '<string></string>',
          MessageType: '<string>Authenticate</string>',
          OSVersion: '<string>17.4</string>',
          ProductName: '<string>iPad14,1</string>',
          SerialNumber: '<string>SERIAL-01</string>',
        }),
      );

      expect(value).toEqual({
        BuildVersion: '',
        DeviceName: '',
        MessageType: 'Authenticate',
        OSVersion: '17.4',
        ProductName: 'iPad14,1',
        SerialNumber: 'SERIAL-01',
      });
    });

    it('accepts an empty key, written either way, as the key ""', () => {
      expect(decodeXml('<dict><key></key><string>x</string><key>b</key><true/></dict>')).toEqual({
        '': 'x',
        b: true,
      });
      expect(decodeXml('<dict><key/><string>y</string></dict>')).toEqual({ '': 'y' });
    });

    it('rejects a dictionary whose last key has no value instead of shifting values', () => {
      const error = expectProtocolError(
        () => decodeXml('<dict><key>a</key><string>1</string><key>b</key></dict>'),
        'PLIST.MALFORMED',
      );

      expect(error.message).toContain('"b" has no value');
    });

    it('rejects a key followed by another key', () => {
      expectProtocolError(
        () => decodeXml('<dict><key>a</key><key>b</key><string>1</string></dict>'),
        'PLIST.MALFORMED',
      );
    });

    it('rejects a value without a key and a repeated key', () => {
      expectProtocolError(() => decodeXml('<dict><string>1</string></dict>'), 'PLIST.MALFORMED');
      expectProtocolError(
        () => decodeXml('<dict><key>a</key><true/><key>a</key><false/></dict>'),
        'PLIST.MALFORMED',
      );
    });
  });

  describe('text', () => {
    it('decodes the five predefined entities and numeric character references', () => {
      expect(decodeXml('<string>&lt;&gt;&amp;&quot;&apos; &#x41;&#65;&#x1F600;</string>')).toBe(
        `<>&"' AA😀`,
      );
    });

    it('keeps the literal backslashes and curly quotes real devices send', () => {
      expect(decodeXml("<string>No \\'Identifier\\' “x”</string>")).toBe("No \\'Identifier\\' “x”");
    });

    it('rejects an unknown entity instead of keeping it as text', () => {
      const error = expectProtocolError(
        () => decodeXml('<string>a&x;b</string>'),
        'PLIST.MALFORMED',
      );

      expect(error.message).toContain('&x;');
    });

    it('rejects a bare ampersand and references to characters XML forbids', () => {
      expectProtocolError(() => decodeXml('<string>fish & chips</string>'), 'PLIST.MALFORMED');
      expectProtocolError(() => decodeXml('<string>&#0;</string>'), 'PLIST.MALFORMED');
      expectProtocolError(() => decodeXml('<string>&#xD800;</string>'), 'PLIST.MALFORMED');
    });

    it('reads CDATA sections and skips comments inside and between elements', () => {
      expect(
        decodeXml(
          '<!-- c --><dict><!-- c --><key>a</key><string>x<![CDATA[<&>]]><!-- c -->y</string></dict>',
        ),
      ).toEqual({ a: 'x<&>y' });
    });

    it('rejects elements nested inside a string', () => {
      expectProtocolError(() => decodeXml('<string>a<b/></string>'), 'PLIST.MALFORMED');
    });

    it('reports the line and column of a fault', () => {
      const error = expectProtocolError(
        () =>
          decodePlist(
            Buffer.from('<plist>\n<dict>\n  <key>a</key>\n  <strin>x</strin>\n</dict></plist>'),
          ),
        'PLIST.MALFORMED',
      );

      expect(error.message).toMatch(/line 4, column \d+/);
      expect(error.message).toContain('<strin>');
    });
  });

  describe('integers (B21 d)', () => {
    it('returns integers above 2^53 as exact bigints', () => {
      expect(
        decodeXml(
          dictXml({
            max: '<integer>18446744073709551615</integer>',
            above: '<integer>9007199254740993</integer>',
            min: '<integer>-9223372036854775808</integer>',
          }),
        ),
      ).toEqual({
        max: 18446744073709551615n,
        above: 9007199254740993n,
        min: -9223372036854775808n,
      });
    });

    it('returns safe integers as numbers', () => {
      expect(decodeXml('<integer>9007199254740991</integer>')).toBe(9007199254740991);
      expect(decodeXml('<integer>23048830844</integer>')).toBe(23048830844);
      expect(decodeXml('<integer> +5 </integer>')).toBe(5);
      expect(Object.is(decodeXml('<integer>-0</integer>'), 0)).toBe(true);
      expect(decodeXml('<integer>00042</integer>')).toBe(42);
    });

    it('rejects integers outside 64 bits and non-integers', () => {
      expectProtocolError(
        () => decodeXml('<integer>18446744073709551616</integer>'),
        'PLIST.MALFORMED',
      );
      expectProtocolError(
        () => decodeXml('<integer>-9223372036854775809</integer>'),
        'PLIST.MALFORMED',
      );
      expectProtocolError(
        () => decodeXml(`<integer>${'9'.repeat(5000)}</integer>`),
        'PLIST.MALFORMED',
      );
      expectProtocolError(() => decodeXml('<integer>1.5</integer>'), 'PLIST.MALFORMED');
      expectProtocolError(() => decodeXml('<integer/>'), 'PLIST.MALFORMED');
    });
  });

  describe('reals', () => {
    it('parses nan and infinities in the spellings Apple and others write', () => {
      expect(decodeXml('<real>nan</real>')).toBeNaN();
      expect(decodeXml('<real>NaN</real>')).toBeNaN();
      expect(decodeXml('<real>+infinity</real>')).toBe(Infinity);
      expect(decodeXml('<real>inf</real>')).toBe(Infinity);
      expect(decodeXml('<real>-infinity</real>')).toBe(-Infinity);
      expect(decodeXml('<real>-inf</real>')).toBe(-Infinity);
    });

    it('parses exponents, leading dots and negative zero', () => {
      expect(decodeXml('<real>1e+21</real>')).toBe(1e21);
      expect(decodeXml('<real>.5</real>')).toBe(0.5);
      expect(decodeXml('<real>538000000</real>')).toBe(538000000);
      expect(Object.is(decodeXml('<real>-0</real>'), -0)).toBe(true);
    });

    it('rejects text that is not a number', () => {
      expectProtocolError(() => decodeXml('<real>fast</real>'), 'PLIST.MALFORMED');
      expectProtocolError(() => decodeXml('<real/>'), 'PLIST.MALFORMED');
    });
  });

  describe('dates', () => {
    it('parses UTC dates with and without fractional seconds', () => {
      expect(decodeXml('<date>2016-11-03T03:12:26Z</date>')).toEqual(
        new Date(Date.UTC(2016, 10, 3, 3, 12, 26)),
      );
      expect(decodeXml('<date>2016-11-03T03:12:26.250Z</date>')).toEqual(
        new Date('2016-11-03T03:12:26.250Z'),
      );
      expect(decodeXml('<date>0042-01-01T00:00:00Z</date>')).toEqual(
        new Date('0042-01-01T00:00:00Z'),
      );
    });

    it('rejects impossible or non-UTC dates', () => {
      expectProtocolError(() => decodeXml('<date>2024-02-30T00:00:00Z</date>'), 'PLIST.MALFORMED');
      expectProtocolError(
        () => decodeXml('<date>2024-01-01T00:00:00+01:00</date>'),
        'PLIST.MALFORMED',
      );
      expectProtocolError(() => decodeXml('<date>yesterday</date>'), 'PLIST.MALFORMED');
    });
  });

  describe('data', () => {
    it('decodes base64 wrapped over lines with tabs and spaces (B21 a)', () => {
      const value = dict(
        decodePlist(readFixture('checkin', 'tokenupdate-ios9-with-unlocktoken.plist')),
      );
      const wrapped = decodeXml('<data>\n\t\tAAEC\n  AwQF\r\n\tBgc=\n\t</data>');

      expect((value['Token'] as Uint8Array).length).toBe(32);
      expect((value['UnlockToken'] as Uint8Array).length).toBe(1288);
      expect(wrapped).toEqual(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]));
    });

    it('rejects data that is not base64', () => {
      expectProtocolError(() => decodeXml('<data>not*base64</data>'), 'PLIST.MALFORMED');
      expectProtocolError(() => decodeXml('<data>QUJDR</data>'), 'PLIST.MALFORMED');
    });
  });

  describe('document structure', () => {
    it('strips a UTF-8 byte-order mark (B21 c)', () => {
      const plain = readFixture('checkin', 'tokenupdate-ios9-with-unlocktoken.plist');
      const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plain]);

      expect(decodePlist(withBom)).toEqual(decodePlist(plain));
    });

    it('accepts a DOCTYPE that shares a line with the declaration and wraps', () => {
      const value = dict(
        decodePlist(readFixture('checkin', 'tokenupdate-macos10.12-user-channel.plist')),
      );

      expect(value['UserShortName']).toBe('jsmy');
    });

    it('accepts a root value without the <plist> wrapper', () => {
      expect(decodePlist(Buffer.from('<dict><key>a</key><integer>1</integer></dict>'))).toEqual({
        a: 1,
      });
    });

    it('rejects an empty <plist>, two root values and trailing content', () => {
      expectProtocolError(
        () => decodePlist(Buffer.from('<plist version="1.0"/>')),
        'PLIST.MALFORMED',
      );
      expectProtocolError(() => decodePlist(Buffer.from('<plist></plist>')), 'PLIST.MALFORMED');
      expectProtocolError(
        () => decodePlist(Buffer.from('<plist><true/><false/></plist>')),
        'PLIST.MALFORMED',
      );
      expectProtocolError(
        () => decodePlist(Buffer.from('<plist><true/></plist>junk')),
        'PLIST.MALFORMED',
      );
    });

    it('refuses encodings other than UTF-8', () => {
      expectProtocolError(
        () => decodePlist(Buffer.from('\ufeff<plist><true/></plist>', 'utf16le')),
        'PLIST.UNSUPPORTED_FORMAT',
      );
      expectProtocolError(
        () =>
          decodePlist(
            Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><plist><true/></plist>'),
          ),
        'PLIST.UNSUPPORTED_FORMAT',
      );
      expectProtocolError(
        () => decodePlist(Buffer.from([0x3c, 0xff, 0xfe, 0x3e])),
        'PLIST.MALFORMED',
      );
    });

    it('rejects unknown elements', () => {
      expectProtocolError(() => decodeXml('<null/>'), 'PLIST.MALFORMED');
      expectProtocolError(() => decodeXml('<key>a</key>'), 'PLIST.MALFORMED');
    });
  });
});

describe('decodePlist (binary)', () => {
  it('decodes a bplist00 TokenUpdate to the same value as its XML form (B21 b)', () => {
    const fromXml = decodePlist(readFixture('checkin', 'tokenupdate-ios9-with-unlocktoken.plist'));
    const binary = encodePlistBinary(fromXml);

    // The 32-byte token needs the extended length marker: 0x4F, then int 0x10 0x20.
    expect(binary.subarray(0, 8).toString()).toBe('bplist00');
    expect(binary.includes(Buffer.from([0x4f, 0x10, 0x20]))).toBe(true);
    expect(decodePlist(binary)).toEqual(fromXml);
  });

  it('reads the 16-byte integer form CoreFoundation writes above INT64_MAX', () => {
    const sixteen = [0x14, ...Buffer.alloc(8), ...Buffer.alloc(8, 0xff)];
    const eight = [0x13, 0x00, 0x20, 0, 0, 0, 0, 0, 0x01];
    const negative = [0x13, ...Buffer.from('fffffffffffffc73', 'hex')];
    const body = assembleBplist([
      [0xd3, 1, 2, 3, 4, 5, 6],
      asciiObject('max'),
      asciiObject('above'),
      asciiObject('neg'),
      sixteen,
      eight,
      negative,
    ]);

    expect(decodePlist(body)).toEqual({ max: 2n ** 64n - 1n, above: 2n ** 53n + 1n, neg: -909 });
  });

  it('decodes UTF-16 strings, reals, dates and booleans', () => {
    const value = {
      s: 'ワイヤレス接続 😀',
      r: 0.25,
      d: new Date('2024-05-01T10:00:00.500Z'),
      b: false,
    };

    expect(decodePlist(encodePlistBinary(value))).toEqual(value);
  });

  it('rejects other bplist versions', () => {
    expectProtocolError(
      () => decodePlist(Buffer.from('bplist15xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')),
      'PLIST.UNSUPPORTED_FORMAT',
    );
  });

  it('rejects every truncation of a valid document with a PlistError', () => {
    const full = encodePlistBinary(
      decodePlist(readFixture('checkin', 'tokenupdate-ios9-with-unlocktoken.plist')),
    );

    for (let cut = 0; cut < full.length; cut++) {
      let thrown: unknown;

      try {
        decodePlist(full.subarray(0, cut));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PlistError);
    }
  });

  it('never throws anything but a PlistError on corrupted bytes', () => {
    const full = encodePlistBinary(
      decodePlist(readFixture('report', 'ack-securityinfo-macos13.plist')),
    );
    let state = 12345;
    const next = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31);

    for (let round = 0; round < 500; round++) {
      const copy = Buffer.from(full);

      for (let flips = 1 + (next() % 4); flips > 0; flips--) {
        copy[8 + (next() % (copy.length - 8))] = next() % 256;
      }
      try {
        decodePlist(copy);
      } catch (error) {
        expect(error).toBeInstanceOf(PlistError);
      }
    }
  });
});

describe('decodePlist limits', () => {
  it('rejects a body above maxBytes with PLIST.TOO_LARGE before parsing it', () => {
    const error = expectProtocolError(
      () => decodePlist(Buffer.alloc(9 * 1024 * 1024, 0x20)),
      'PLIST.TOO_LARGE',
    );

    expect(error.message).toContain('8.0 MiB');
    expectProtocolError(
      () => decodePlist(xmlPlist('<true/>'), { maxBytes: 50 }),
      'PLIST.TOO_LARGE',
    );
  });

  it('accepts nesting up to maxDepth and rejects one level more, in XML and binary', () => {
    const nest = (levels: number): string => '<array>'.repeat(levels) + '</array>'.repeat(levels);
    let deep: PlistValue = [];

    for (let i = 1; i < 64; i++) deep = [deep];

    expect(() => decodeXml(nest(64))).not.toThrow();
    expectProtocolError(() => decodeXml(nest(65)), 'PLIST.TOO_DEEP');
    expect(() => decodePlist(encodePlistBinary(deep))).not.toThrow();
    expectProtocolError(() => decodePlist(encodePlistBinary([deep])), 'PLIST.TOO_DEEP');
  });

  it('survives a depth bomb of 100 000 levels without exhausting the stack', () => {
    expectProtocolError(() => decodeXml('<array>'.repeat(100_000)), 'PLIST.TOO_DEEP');
    expectProtocolError(() => decodeXml('<dict><key>a</key>'.repeat(100_000)), 'PLIST.TOO_DEEP');
  });

  it('honours a custom maxObjects', () => {
    const body = xmlPlist(`<array>${'<true/>'.repeat(11)}</array>`);

    expect(() => decodePlist(body, { maxObjects: 12 })).not.toThrow();
    expectProtocolError(() => decodePlist(body, { maxObjects: 11 }), 'PLIST.TOO_MANY_OBJECTS');
  });
});

describe('encodePlistXml', () => {
  it('writes Apple-style XML with tab indentation and one-line base64 data', () => {
    const xml = encodePlistXml({
      a: 'x&y',
      b: new Uint8Array([1, 2, 3]),
      c: [],
      d: {},
      e: 7,
    }).toString();

    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
        '<plist version="1.0">\n' +
        '<dict>\n\t<key>a</key>\n\t<string>x&amp;y</string>\n\t<key>b</key>\n\t<data>AQID</data>\n' +
        '\t<key>c</key>\n\t<array/>\n\t<key>d</key>\n\t<dict/>\n\t<key>e</key>\n\t<integer>7</integer>\n' +
        '</dict>\n</plist>\n',
    );
  });

  it('writes bytes as <data> base64-encoded exactly once, Buffer or Uint8Array alike', () => {
    const profile = Buffer.from('<?xml version="1.0"?><plist/>');
    const xml = encodePlistXml({ buf: profile, u8: new Uint8Array(profile) }).toString();
    const matches = [...xml.matchAll(/<data>([^<]*)<\/data>/g)].map((m) => m[1]);

    expect(matches).toEqual([profile.toString('base64'), profile.toString('base64')]);
    expect(
      Buffer.from(matches[0] ?? '', 'base64')
        .subarray(0, 5)
        .toString(),
    ).toBe('<?xml');
  });

  it('writes every digit of a bigint and keeps large safe numbers integers', () => {
    const xml = encodePlistXml({ a: 2n ** 64n - 1n, b: 23048830844, c: 2 ** 60 }).toString();

    expect(xml).toContain('<integer>18446744073709551615</integer>');
    expect(xml).toContain('<integer>23048830844</integer>');
    expect(xml).toContain('<integer>1152921504606846976</integer>');
  });

  it('writes NaN, infinities and -0 as reals a plist reader understands', () => {
    const xml = encodePlistXml([Number.NaN, Infinity, -Infinity, -0, 0.5]).toString();

    expect(xml).toContain('<real>nan</real>');
    expect(xml).toContain('<real>+infinity</real>');
    expect(xml).toContain('<real>-infinity</real>');
    expect(xml).toContain('<real>-0</real>');
    expect(xml).toContain('<real>0.5</real>');
  });

  it('writes dates to the second, as Apple does', () => {
    expect(encodePlistXml(new Date('2024-05-01T10:00:00.900Z')).toString()).toContain(
      '<date>2024-05-01T10:00:00Z</date>',
    );
  });

  it('escapes markup characters and carriage returns in keys and strings', () => {
    const value = { 'a<b>&c': 'line\r\n<tag> & "q"' };
    const xml = encodePlistXml(value).toString();

    expect(xml).toContain('<key>a&lt;b&gt;&amp;c</key>');
    expect(xml).toContain('<string>line&#13;\n&lt;tag&gt; &amp; "q"</string>');
    expect(decodePlist(Buffer.from(xml))).toEqual(value);
  });

  it('refuses values that have no plist form instead of skipping them', () => {
    const cyclic: PlistDict = {};

    cyclic['self'] = cyclic;

    for (const encode of [encodePlistXml, encodePlistBinary]) {
      expectProtocolError(
        () => encode({ a: undefined } as unknown as PlistValue),
        'PLIST.UNENCODABLE',
      );
      expectProtocolError(() => encode({ a: null } as unknown as PlistValue), 'PLIST.UNENCODABLE');
      expectProtocolError(() => encode([() => 1] as unknown as PlistValue), 'PLIST.UNENCODABLE');
      expectProtocolError(() => encode(new Map() as unknown as PlistValue), 'PLIST.UNENCODABLE');
      // eslint-disable-next-line no-sparse-arrays
      expectProtocolError(() => encode([1, , 3] as unknown as PlistValue), 'PLIST.UNENCODABLE');
      expectProtocolError(() => encode(cyclic), 'PLIST.UNENCODABLE');
      expectProtocolError(() => encode(2n ** 64n), 'PLIST.UNENCODABLE');
      expectProtocolError(() => encode(new Date(Number.NaN)), 'PLIST.UNENCODABLE');
    }
  });

  it('names the path of the value it could not encode', () => {
    const error = expectProtocolError(
      () =>
        encodePlistXml({
          Command: { Items: [{ ok: 1 }, { bad: undefined }] },
        } as unknown as PlistValue),
      'PLIST.UNENCODABLE',
    );

    expect(error.message).toContain('Command.Items[1].bad');
  });

  it('refuses control characters in XML but carries them in binary', () => {
    expectProtocolError(() => encodePlistXml('a\u0001b'), 'PLIST.UNENCODABLE');
    expectProtocolError(() => encodePlistXml('lone \ud800 surrogate'), 'PLIST.UNENCODABLE');
    expect(decodePlist(encodePlistBinary('a\u0001b \ud800'))).toBe('a\u0001b \ud800');
  });
});

describe('encodePlistBinary', () => {
  it('writes 2^64-1 in the 16-byte form and 2^53+1 as an 8-byte integer', () => {
    const binary = encodePlistBinary([2n ** 64n - 1n, 2n ** 53n + 1n]);

    expect(binary.includes(Buffer.from([0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]))).toBe(true);
    expect(binary.includes(Buffer.from([0x13, 0x00, 0x20, 0, 0, 0, 0, 0, 0x01]))).toBe(true);
    expect(decodePlist(binary)).toEqual([2n ** 64n - 1n, 2n ** 53n + 1n]);
  });

  it('writes integral numbers as integers, never as reals', () => {
    const binary = encodePlistBinary(23048830844);

    expect(binary[8]).toBe(0x13);
    expect(decodePlist(binary)).toBe(23048830844);
  });

  it('shares one object for repeated strings', () => {
    const once = encodePlistBinary(['UDID']);
    const many = encodePlistBinary(['UDID', 'UDID', 'UDID']);

    expect(many.length - once.length).toBeLessThan(12);
  });

  it('handles documents with more than 65 535 objects', () => {
    const value = Array.from({ length: 70_000 }, (_, i) => i);

    expect(decodePlist(encodePlistBinary(value))).toEqual(value);
  });
});

describe('decodePlist performance', () => {
  it('decodes a typical 1 KB check-in in well under 100 µs', () => {
    const body = readFixture('checkin', 'authenticate-macos10.12-imac.plist');

    for (let i = 0; i < 500; i++) decodePlist(body);

    const runs = 5000;
    const start = process.hrtime.bigint();

    for (let i = 0; i < runs; i++) decodePlist(body);

    const meanMicros = Number(process.hrtime.bigint() - start) / runs / 1000;

    expect(body.length).toBeGreaterThan(700);
    expect(meanMicros).toBeLessThan(100);
  });
});
