import {
  Asn1Error,
  octetString,
  octetStringOf,
  oid,
  oidOf,
  parseAsn1,
  sequence,
  setOf,
  time,
  timeOf,
  toDefiniteLength,
  unsignedInteger,
} from './der.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('der', () => {
  it('encodes and reads back object identifiers, including large arcs', () => {
    for (const dotted of [
      '1.2.840.113549.1.7.2',
      '2.5.29.37',
      '2.999.3',
      '1.3.6.1.4.1.311.20.2.3',
    ]) {
      const encoded = oid(dotted);

      expect(oidOf(encoded, parseAsn1(encoded), 'oid')).toBe(dotted);
    }
    expect(oid('1.2.840.113549').toString('hex')).toBe('06062a864886f70d');
  });

  it('encodes non-negative integers minimally', () => {
    expect(unsignedInteger(hex('00 00 7f')).toString('hex')).toBe('02017f');
    expect(unsignedInteger(hex('80')).toString('hex')).toBe('02020080');
    expect(unsignedInteger(hex('00')).toString('hex')).toBe('020100');
  });

  it('sorts SET OF members by their encoding', () => {
    const set = setOf(hex('0403 020202'), hex('0401 01'), hex('0402 0303'));

    expect(set.toString('hex')).toBe('310c' + '040101' + '04020303' + '0403020202');
  });

  it('uses long-form lengths above 127 bytes', () => {
    const long = sequence(octetString(Buffer.alloc(300, 5)));
    const node = parseAsn1(long).children[0];

    expect(long.subarray(0, 8).toString('hex')).toBe('308201300482012c');
    expect(octetStringOf(long, node, 'octets')).toEqual(Buffer.alloc(300, 5));
  });

  it('writes UTCTime before 2050 and GeneralizedTime after, and reads both', () => {
    const early = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
    const late = new Date(Date.UTC(2051, 6, 1, 0, 0, 0));

    expect(time(early).toString('latin1', 2)).toBe('300102030405Z');
    expect(time(late).toString('latin1', 2)).toBe('20510701000000Z');
    expect(timeOf(time(early), parseAsn1(time(early)), 't')).toEqual(early);
    expect(timeOf(time(late), parseAsn1(time(late)), 't')).toEqual(late);
  });

  it('reads indefinite lengths and constructed OCTET STRINGs, and re-encodes them as DER', () => {
    // SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "c" } }
    const ber = hex('3080 2480 0402 6162 0401 63 0000 0000');
    const node = parseAsn1(ber);

    expect(node.indefinite).toBe(true);
    expect(octetStringOf(ber, node.children[0], 'octets').toString()).toBe('abc');
    expect(toDefiniteLength(ber, node).toString('hex')).toBe(
      '3009' + '2407' + '04026162' + '040163',
    );
  });

  it.each([
    ['an empty input', ''],
    ['a truncated length', '30'],
    ['content longer than the input', '3005 0101'],
    ['a length of more than four octets', '3085 0000000001 00'],
    ['an indefinite primitive', '0480 00 0000'],
    ['an unterminated indefinite length', '3080 0500'],
    ['trailing bytes', '3000 00'],
    ['a truncated high tag number', '1f'],
  ])('refuses %s with an Asn1Error', (_name, input) => {
    expect(() => parseAsn1(hex(input))).toThrow(Asn1Error);
  });

  it('refuses hostile nesting depth', () => {
    let nested: Buffer = Buffer.alloc(0);
    for (let depth = 0; depth < 200; depth++) {
      nested = sequence(nested);
    }

    expect(() => parseAsn1(nested)).toThrow(/nested too deeply/);
  });

  it('refuses an object identifier with a runaway arc', () => {
    const runaway = hex('060b 2a ffffffffffffffffff 01');

    expect(() => oidOf(runaway, parseAsn1(runaway), 'oid')).toThrow(Asn1Error);
  });
});
