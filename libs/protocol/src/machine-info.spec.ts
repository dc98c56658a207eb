import { MACHINE_INFO_KEYS, readMachineInfo, type MachineInfo } from './machine-info.js';
import { decodePlist, encodePlistBinary, encodePlistXml } from './plist-codec.js';
import type { PlistDict } from './plist-types.js';
import { expectProtocolError } from './testing/expect-error.js';
import { readFixture } from './testing/fixtures.js';
import { findEntry, readSchema } from './testing/schema-yaml.js';
import { createTestIdentity, signAttached } from './testing/signing.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const fixtureBytes = readFixture('ade', 'machineinfo-ios11-ipad.plist');
const identity = createTestIdentity('Turnaround test device');

const str = (text: string): string => `<string>${text}</string>`;

function machineInfo(entries: Record<string, string>): MachineInfo {
  return readMachineInfo(
    xmlPlist(
      dictXml({
        UDID: str('00008030-001A2B3C4D5E6F70'),
        SERIAL: str('F9FXK0ABCDEF'),
        PRODUCT: str('iPhone12,1'),
        VERSION: str('21E236'),
        ...entries,
      }),
    ),
  );
}

describe('readMachineInfo on the real iPad capture', () => {
  it('reads an iOS 11 iPad: LANGUAGE en-AU and none of the iOS 17 keys', () => {
    const info = readMachineInfo(fixtureBytes);

    expect(info).toEqual({
      udid: '00000000000000000000000000000000',
      serial: 'RRZVQ1320865',
      product: 'iPad4,1',
      version: '15A5278f',
      language: 'en-AU',
      isSigned: false,
      raw: decodePlist(fixtureBytes),
    });
    expect(info.osVersion).toBeUndefined();
    expect(info.softwareUpdateDeviceId).toBeUndefined();
    expect(info.mdmCanRequestSoftwareUpdate).toBeUndefined();
  });

  it('reads the same values from a binary plist', () => {
    const binary = readMachineInfo(encodePlistBinary(decodePlist(fixtureBytes)));

    expect(binary).toEqual(readMachineInfo(fixtureBytes));
  });
});

describe('readMachineInfo in a CMS envelope', () => {
  it('unwraps a signed XML body as a device sends it', () => {
    const signed = signAttached(fixtureBytes, identity);
    const info = readMachineInfo(signed);

    expect(signed[0]).toBe(0x30);
    expect(info).toEqual({ ...readMachineInfo(fixtureBytes), isSigned: true });
  });

  it('unwraps a signed binary body', () => {
    const signed = signAttached(encodePlistBinary(decodePlist(fixtureBytes)), identity);

    expect(readMachineInfo(signed)).toMatchObject({
      serial: 'RRZVQ1320865',
      language: 'en-AU',
      isSigned: true,
    });
  });

  it('does not verify the signature: content changed after signing still reads', () => {
    const signed = signAttached(fixtureBytes, identity);
    const at = signed.indexOf('en-AU');

    signed.write('en-GB', at, 'latin1');

    expect(readMachineInfo(signed).language).toBe('en-GB');
  });

  it('refuses an envelope that is not SignedData and signed content that is not a plist', () => {
    const notCms = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]);

    expectProtocolError(() => readMachineInfo(notCms), 'MACHINE_INFO.MALFORMED');
    expectProtocolError(() => readMachineInfo(Buffer.from([0x30, 0x82])), 'MACHINE_INFO.MALFORMED');
    expectProtocolError(
      () => readMachineInfo(signAttached(Buffer.from('{"UDID":"x"}'), identity)),
      'PLIST.MALFORMED',
    );
  });
});

describe('readMachineInfo keys', () => {
  it('reads the iOS 17+ and macOS 26 keys', () => {
    const info = machineInfo({
      OS_VERSION: str('17.4'),
      SUPPLEMENTAL_BUILD_VERSION: str('21E237'),
      SUPPLEMENTAL_OS_VERSION_EXTRA: str('(a)'),
      IMEI: str('35 209900 176148 1'),
      MEID: str('35209900176148'),
      MDM_CAN_REQUEST_SOFTWARE_UPDATE: '<true/>',
      SOFTWARE_UPDATE_DEVICE_ID: str('iPhone12,1'),
      MDM_CAN_REQUEST_PSSO_CONFIG: '<false/>',
      MANDATORY_SOFTWARE_UPDATE_REQUIRED: '<false/>',
      PAIRING_TOKEN: '<data>AQID</data>',
    });

    expect(info).toMatchObject({
      osVersion: '17.4',
      supplementalBuildVersion: '21E237',
      supplementalOsVersionExtra: '(a)',
      imei: '35 209900 176148 1',
      meid: '35209900176148',
      mdmCanRequestSoftwareUpdate: true,
      softwareUpdateDeviceId: 'iPhone12,1',
      mdmCanRequestPssoConfig: false,
      mandatorySoftwareUpdateRequired: false,
      pairingToken: new Uint8Array([1, 2, 3]),
    });
  });

  it('reads only key names and types that Apple documents for MachineInfo', () => {
    const schema = readSchema('other/machineinfo.yaml');
    const sample: PlistDict = {};

    for (const key of Object.values(MACHINE_INFO_KEYS)) {
      const entry = findEntry(schema.payloadkeys, [key]);

      expect(entry).toBeDefined();
      sample[key] =
        entry?.type === 'boolean' ? true : entry?.type === 'data' ? new Uint8Array([9]) : 'v';
    }

    expect(schema.payloadkeys.map((entry) => entry.path.join('.')).sort()).toEqual(
      Object.values(MACHINE_INFO_KEYS).sort(),
    );

    const info = readMachineInfo(encodePlistXml(sample));

    expect(Object.keys(info).sort()).toEqual(
      [...Object.keys(MACHINE_INFO_KEYS), 'isSigned', 'raw'].sort(),
    );
  });

  it('keeps undocumented keys in raw only', () => {
    const info = machineInfo({ CHALLENGE: str('abc') });

    expect(info.raw['CHALLENGE']).toBe('abc');
    expect(Object.keys(info).sort()).toEqual([
      'isSigned',
      'product',
      'raw',
      'serial',
      'udid',
      'version',
    ]);
  });
});

describe('readMachineInfo on hostile bodies', () => {
  it('refuses a body without a required identifier, naming it', () => {
    const body = xmlPlist(dictXml({ UDID: str('u'), PRODUCT: str('p'), VERSION: str('v') }));

    expect(
      expectProtocolError(() => readMachineInfo(body), 'MACHINE_INFO.MALFORMED').message,
    ).toContain('SERIAL');
  });

  it('refuses known keys of the wrong type, naming the key', () => {
    const wrong = (entries: Record<string, string>): string =>
      expectProtocolError(() => machineInfo(entries), 'MACHINE_INFO.MALFORMED').message;

    expect(wrong({ LANGUAGE: '<integer>1</integer>' })).toContain('LANGUAGE');
    expect(wrong({ MDM_CAN_REQUEST_SOFTWARE_UPDATE: str('true') })).toContain(
      'MDM_CAN_REQUEST_SOFTWARE_UPDATE',
    );
    expect(wrong({ UDID: '<array/>' })).toContain('UDID');
    expect(wrong({ PAIRING_TOKEN: str('AQID') })).toContain('PAIRING_TOKEN');
  });

  it('refuses a root that is not a dictionary', () => {
    expectProtocolError(
      () => readMachineInfo(xmlPlist('<array><string>UDID</string></array>')),
      'MACHINE_INFO.MALFORMED',
    );
    expectProtocolError(
      () => readMachineInfo(signAttached(xmlPlist('<string>UDID</string>'), identity)),
      'MACHINE_INFO.MALFORMED',
    );
  });
});
