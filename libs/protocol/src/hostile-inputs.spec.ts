import { parseCheckIn } from './checkin.js';
import { parseCommand } from './commands.js';
import { readMachineInfo } from './machine-info.js';
import { decodePlist } from './plist-codec.js';
import { parseProfile } from './profiles.js';
import { ProtocolError, type ProtocolErrorCode } from './protocol.errors.js';
import { parseReport } from './report.js';
import { asciiObject, assembleBplist } from './testing/bplist-assembler.js';
import { expectProtocolError } from './testing/expect-error.js';
import { xmlPlist } from './testing/xml.js';

const parsers = {
  decodePlist,
  parseCheckIn,
  parseReport,
  parseCommand,
  parseProfile,
  readMachineInfo,
};

describe('hostile XML', () => {
  it('refuses a DOCTYPE internal subset and never expands its entities (billion laughs)', () => {
    const laughs =
      '<?xml version="1.0"?>\n<!DOCTYPE plist [\n <!ENTITY a "lol">\n' +
      ' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n<plist><string>&b;</string></plist>';

    expectProtocolError(() => decodePlist(Buffer.from(laughs)), 'PLIST.FORBIDDEN_DTD');
  });

  it('refuses an external entity declaration (XXE)', () => {
    const xxe =
      '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY x SYSTEM "file:///etc/passwd">]>' +
      '<plist><string>&x;</string></plist>';

    expectProtocolError(() => decodePlist(Buffer.from(xxe)), 'PLIST.FORBIDDEN_DTD');
  });

  it('refuses entity declarations outside a DOCTYPE', () => {
    expectProtocolError(
      () => decodePlist(Buffer.from('<plist><!ENTITY x "y"><string>a</string></plist>')),
      'PLIST.FORBIDDEN_DTD',
    );
  });

  it('never resolves a DOCTYPE system identifier; an undeclared entity is an error', () => {
    const external =
      '<!DOCTYPE plist SYSTEM "http://169.254.169.254/latest"><plist><string>&x;</string></plist>';

    expectProtocolError(() => decodePlist(Buffer.from(external)), 'PLIST.MALFORMED');
  });

  it('refuses __proto__ keys and leaves Object.prototype untouched', () => {
    const body = xmlPlist(
      '<dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict>',
    );

    expectProtocolError(() => decodePlist(body), 'PLIST.FORBIDDEN_KEY');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('keeps constructor and prototype keys as ordinary own keys', () => {
    const value = decodePlist(
      xmlPlist(
        '<dict><key>constructor</key><dict><key>prototype</key><dict><key>polluted</key>' +
          '<true/></dict></dict></dict>',
      ),
    ) as Record<string, unknown>;

    expect(Object.keys(value)).toEqual(['constructor']);
    expect(value['constructor']).toEqual({ prototype: { polluted: true } });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});

describe('hostile binary plists', () => {
  it('refuses __proto__ keys', () => {
    const body = assembleBplist([[0xd1, 1, 2], asciiObject('__proto__'), [0x09]]);

    expectProtocolError(() => decodePlist(body), 'PLIST.FORBIDDEN_KEY');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses a container that contains itself', () => {
    expectProtocolError(() => decodePlist(assembleBplist([[0xa1, 0]])), 'PLIST.MALFORMED');
    expectProtocolError(
      () =>
        decodePlist(
          assembleBplist([
            [0xa1, 1],
            [0xa1, 0],
          ]),
        ),
      'PLIST.MALFORMED',
    );
  });

  it('stops a reference amplification bomb at maxObjects', () => {
    // Ten levels of arrays that each reference the level below fifteen times: 15^10 values.
    const levels = Array.from({ length: 10 }, (_, i) => [0xaf, 0x10, 15, ...Array(15).fill(i + 1)]);
    const body = assembleBplist([...levels, [0x09]]);

    expectProtocolError(() => decodePlist(body), 'PLIST.TOO_MANY_OBJECTS');
  });

  it('refuses references and offsets that point outside the document', () => {
    expectProtocolError(() => decodePlist(assembleBplist([[0xa1, 9]])), 'PLIST.MALFORMED');

    const body = assembleBplist([[0x09]]);

    body[body.length - 32 - 1] = 0xf0;
    expectProtocolError(() => decodePlist(body), 'PLIST.MALFORMED');
  });

  it('refuses lengths that run past the object area', () => {
    expectProtocolError(
      () => decodePlist(assembleBplist([[0x4f, 0x12, 0x7f, 0xff, 0xff, 0xff]])),
      'PLIST.MALFORMED',
    );
  });

  it('refuses null, UID, set and non-string keys', () => {
    expectProtocolError(() => decodePlist(assembleBplist([[0x00]])), 'PLIST.MALFORMED');
    expectProtocolError(() => decodePlist(assembleBplist([[0x80, 0x05]])), 'PLIST.MALFORMED');
    expectProtocolError(() => decodePlist(assembleBplist([[0xc1, 1], [0x09]])), 'PLIST.MALFORMED');
    expectProtocolError(
      () => decodePlist(assembleBplist([[0xd1, 1, 2], [0x10, 1], [0x09]])),
      'PLIST.MALFORMED',
    );
  });

  it('refuses a trailer with impossible sizes', () => {
    const body = assembleBplist([[0x09]]);

    body[body.length - 32 + 6] = 3;
    expectProtocolError(() => decodePlist(body), 'PLIST.MALFORMED');
  });
});

describe('hostile bodies for every parser', () => {
  const cases: Array<[string, Buffer, ProtocolErrorCode[]]> = [
    ['empty body', Buffer.alloc(0), ['PLIST.MALFORMED']],
    ['garbage bytes', Buffer.from([0x00, 0x9f, 0x13, 0x37, 0xfe]), ['PLIST.MALFORMED']],
    ['random text', Buffer.from('hello world'), ['PLIST.MALFORMED']],
    ['JSON', Buffer.from('{"MessageType":"Authenticate"}'), ['PLIST.MALFORMED']],
    [
      'truncated XML',
      xmlPlist('<dict><key>UDID</key><string>abc').subarray(0, 150),
      ['PLIST.MALFORMED'],
    ],
    ['truncated binary', Buffer.from('bplist00\xd1\x01\x02', 'latin1'), ['PLIST.MALFORMED']],
    ['oversized body', Buffer.alloc(8 * 1024 * 1024 + 1, 0x20), ['PLIST.TOO_LARGE']],
    ['depth bomb', xmlPlist('<array>'.repeat(1000) + '</array>'.repeat(1000)), ['PLIST.TOO_DEEP']],
  ];

  for (const [name, body, codes] of cases) {
    for (const [parserName, parse] of Object.entries(parsers)) {
      it(`${parserName} rejects ${name} with a coded error`, () => {
        let thrown: unknown;

        try {
          parse(body);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(ProtocolError);
        expect(codes).toContain((thrown as ProtocolError).code);
      });
    }
  }

  it('rejects a root of the wrong type with each parser own code', () => {
    const array = xmlPlist('<array><string>Authenticate</string></array>');

    expectProtocolError(() => parseCheckIn(array), 'CHECKIN.MALFORMED');
    expectProtocolError(() => parseReport(array), 'REPORT.MALFORMED');
    expectProtocolError(() => parseCommand(array), 'COMMAND.MALFORMED');
    expectProtocolError(() => parseProfile(array), 'PROFILE.MALFORMED');
    expectProtocolError(() => readMachineInfo(array), 'MACHINE_INFO.MALFORMED');
  });

  it('rejects a non-bytes argument with a coded error, not a TypeError', () => {
    expectProtocolError(() => decodePlist('<plist/>' as unknown as Uint8Array), 'PLIST.MALFORMED');
    expectProtocolError(() => parseCheckIn(undefined as unknown as Uint8Array), 'PLIST.MALFORMED');
  });
});
