import {
  buildActivationLockBypassCode,
  buildClearActivationLockBypassCode,
  buildDeviceConfigured,
  buildDeviceInformation,
  buildEraseDevice,
  buildInstallApplication,
  buildInstalledApplicationList,
  buildInstallProfile,
  buildManagedApplicationList,
  buildProfileList,
  buildRemoveProfile,
  buildReturnToServiceResponse,
  buildSecurityInfo,
  buildSettings,
  buildSoftwareUpdateRequired,
  encodeCommand,
  parseCommand,
  SOFTWARE_UPDATE_REQUIRED_CODE,
  type SoftwareUpdateRequiredOptions,
} from './commands.js';
import { decodePlist, encodePlistBinary, encodePlistXml } from './plist-codec.js';
import type { PlistDict } from './plist-types.js';
import { expectProtocolError } from './testing/expect-error.js';
import { listFixtures, readFixture } from './testing/fixtures.js';
import { findEntry, readSchema, schemaTypeOf } from './testing/schema-yaml.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const wifiProfile = readFixture('profile', 'wifi-return-to-service-hidden-any.mobileconfig');
const mdmProfile = readFixture('profile', 'enrollment-scep-mdm-nanomdm.mobileconfig');
const bootstrapToken = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');

function dataElements(xml: string): Map<string, string> {
  const found = new Map<string, string>();

  for (const m of xml.matchAll(/<key>(\w+)<\/key>\s*<(data|string)>([^<]*)<\/\2>/g)) {
    found.set(m[1] ?? '', `${m[2]}:${m[3]}`);
  }

  return found;
}

describe('buildEraseDevice', () => {
  it('builds a plain erase', () => {
    expect(buildEraseDevice()).toEqual({ RequestType: 'EraseDevice' });
  });

  it('puts PreserveDataPlan at the top level, never inside ReturnToService', () => {
    const command = buildEraseDevice({
      returnToService: { enabled: true, wifiProfileData: wifiProfile },
      preserveDataPlan: true,
      disallowProximitySetup: false,
    });

    expect(command).toEqual({
      RequestType: 'EraseDevice',
      PreserveDataPlan: true,
      DisallowProximitySetup: false,
      ReturnToService: { Enabled: true, WiFiProfileData: wifiProfile },
    });
  });

  it('writes profile blobs and the bootstrap token as <data>, base64-encoded exactly once (B02)', () => {
    const command = buildEraseDevice({
      returnToService: {
        enabled: true,
        wifiProfileData: wifiProfile,
        mdmProfileData: mdmProfile,
        bootstrapToken,
        shouldRetryEnrollment: true,
      },
    });
    const xml = encodeCommand('E1', command).toString();
    const elements = dataElements(xml);

    for (const key of ['WiFiProfileData', 'MDMProfileData', 'BootstrapToken']) {
      const [kind, text] = (elements.get(key) ?? '').split(':');
      const bytes = Buffer.from(text ?? '', 'base64');

      expect(kind).toBe('data');
      expect(bytes.subarray(0, 4).toString()).not.toBe('PD94');
      if (key !== 'BootstrapToken') expect(bytes.subarray(0, 5).toString()).toBe('<?xml');
    }

    const decoded = parseCommand(Buffer.from(xml)).command['ReturnToService'] as PlistDict;
    const wifi = Buffer.from(decoded['WiFiProfileData'] as Uint8Array);
    const mdm = Buffer.from(decoded['MDMProfileData'] as Uint8Array);

    expect(wifi.subarray(0, 5).toString()).toBe('<?xml');
    expect(mdm.subarray(0, 5).toString()).toBe('<?xml');
    expect(wifi.equals(wifiProfile)).toBe(true);
    expect(Buffer.from(decoded['BootstrapToken'] as Uint8Array).equals(bootstrapToken)).toBe(true);
    expect(decoded['ShouldRetryEnrollment']).toBe(true);
  });

  it('accepts binary and CMS-signed profile bytes', () => {
    const binary = encodePlistBinary(decodePlist(wifiProfile));
    const signed = Buffer.from([0x30, 0x82, 0x01, 0x00]);
    const command = buildEraseDevice({
      returnToService: { enabled: true, wifiProfileData: binary, mdmProfileData: signed },
    });
    const rts = decodePlist(encodePlistXml(command)) as PlistDict;
    const inner = rts['ReturnToService'] as PlistDict;

    expect(
      Buffer.from(inner['WiFiProfileData'] as Uint8Array)
        .subarray(0, 8)
        .toString(),
    ).toBe('bplist00');
    expect((inner['MDMProfileData'] as Uint8Array)[0]).toBe(0x30);
  });

  it('refuses profile data that is base64 text or a string (B02)', () => {
    const base64 = Buffer.from(wifiProfile.toString('base64'));
    const error = expectProtocolError(
      () => buildEraseDevice({ returnToService: { enabled: true, wifiProfileData: base64 } }),
      'COMMAND.INVALID_ARGUMENT',
    );

    expect(error.message).toContain('base64');
    expectProtocolError(
      () =>
        buildEraseDevice({
          returnToService: {
            enabled: true,
            mdmProfileData: wifiProfile.toString('base64') as unknown as Uint8Array,
          },
        }),
      'COMMAND.INVALID_ARGUMENT',
    );
    expectProtocolError(
      () =>
        buildEraseDevice({
          returnToService: { enabled: true, wifiProfileData: Buffer.from('hello') },
        }),
      'COMMAND.INVALID_ARGUMENT',
    );
  });

  it('refuses an empty bootstrap token: the key is left out when none is escrowed (B08)', () => {
    expectProtocolError(
      () =>
        buildEraseDevice({ returnToService: { enabled: true, bootstrapToken: new Uint8Array(0) } }),
      'COMMAND.INVALID_ARGUMENT',
    );
    expect(buildEraseDevice({ returnToService: { enabled: true } })['ReturnToService']).toEqual({
      Enabled: true,
    });
  });

  it('checks PIN length, ObliterationBehavior and Enabled', () => {
    expect(buildEraseDevice({ pin: '123456', obliterationBehavior: 'DoNotObliterate' })).toEqual({
      RequestType: 'EraseDevice',
      PIN: '123456',
      ObliterationBehavior: 'DoNotObliterate',
    });
    expectProtocolError(() => buildEraseDevice({ pin: '1234' }), 'COMMAND.INVALID_ARGUMENT');
    expectProtocolError(
      () => buildEraseDevice({ obliterationBehavior: 'Never' as 'Always' }),
      'COMMAND.INVALID_ARGUMENT',
    );
    expectProtocolError(
      () => buildEraseDevice({ returnToService: {} as { enabled: boolean } }),
      'COMMAND.INVALID_ARGUMENT',
    );
  });
});

describe('buildReturnToServiceResponse', () => {
  it('mirrors the EraseDevice dictionary with PreserveDataPlan beside it (B07)', () => {
    const options = { enabled: true, wifiProfileData: wifiProfile, bootstrapToken };
    const response = buildReturnToServiceResponse({
      returnToService: options,
      preserveDataPlan: true,
    });

    expect(response).toEqual({
      ReturnToService: buildEraseDevice({ returnToService: options })['ReturnToService'],
      PreserveDataPlan: true,
    });
    expect(buildReturnToServiceResponse({ returnToService: { enabled: false } })).toEqual({
      ReturnToService: { Enabled: false },
    });
  });
});

describe('other command builders', () => {
  it('build the documented dictionaries', () => {
    expect(buildInstallProfile(wifiProfile)).toEqual({
      RequestType: 'InstallProfile',
      Payload: wifiProfile,
    });
    expect(buildRemoveProfile('com.example.wifi')).toEqual({
      RequestType: 'RemoveProfile',
      Identifier: 'com.example.wifi',
    });
    expect(buildDeviceConfigured()).toEqual({ RequestType: 'DeviceConfigured' });
    expect(buildSecurityInfo()).toEqual({ RequestType: 'SecurityInfo' });
    expect(buildDeviceInformation(['UDID', 'AwaitingConfiguration'])).toEqual({
      RequestType: 'DeviceInformation',
      Queries: ['UDID', 'AwaitingConfiguration'],
    });
    expect(buildManagedApplicationList()).toEqual({ RequestType: 'ManagedApplicationList' });
    expect(buildManagedApplicationList(['com.a'])).toEqual({
      RequestType: 'ManagedApplicationList',
      Identifiers: ['com.a'],
    });
    expect(buildInstalledApplicationList({ managedAppsOnly: true })).toEqual({
      RequestType: 'InstalledApplicationList',
      ManagedAppsOnly: true,
    });
    expect(buildProfileList()).toEqual({ RequestType: 'ProfileList' });
    expect(buildProfileList({ managedOnly: false })).toEqual({
      RequestType: 'ProfileList',
      ManagedOnly: false,
    });
    expect(buildActivationLockBypassCode()).toEqual({ RequestType: 'ActivationLockBypassCode' });
    expect(buildClearActivationLockBypassCode()).toEqual({
      RequestType: 'ClearActivationLockBypassCode',
    });
  });

  it('build InstallApplication for App Store, VPP and enterprise apps', () => {
    expect(
      buildInstallApplication({ iTunesStoreID: 1096834193, managementFlags: 0, purchaseMethod: 1 }),
    ).toEqual({
      RequestType: 'InstallApplication',
      iTunesStoreID: 1096834193,
      ManagementFlags: 0,
      Options: { PurchaseMethod: 1 },
    });
    expect(
      buildInstallApplication({
        manifestURL: 'https://yourmdmhost.example.com/files/myenterpriseapp.plist',
        managementFlags: 0,
      }),
    ).toEqual(
      parseCommand(readFixture('command', 'installapplication-manifesturl-apple-doc.plist'))
        .command,
    );
    expect(
      buildInstallApplication({
        identifier: 'com.a',
        installAsManaged: true,
        changeManagementState: 'Managed',
      }),
    ).toEqual({
      RequestType: 'InstallApplication',
      Identifier: 'com.a',
      InstallAsManaged: true,
      ChangeManagementState: 'Managed',
    });
  });

  it('refuse invalid InstallApplication options', () => {
    expectProtocolError(() => buildInstallApplication({}), 'COMMAND.INVALID_ARGUMENT');
    expectProtocolError(
      () => buildInstallApplication({ iTunesStoreID: 1, identifier: 'com.a' }),
      'COMMAND.INVALID_ARGUMENT',
    );
    expectProtocolError(
      () => buildInstallApplication({ manifestURL: 'http://insecure.example/app.plist' }),
      'COMMAND.INVALID_ARGUMENT',
    );
    expectProtocolError(
      () => buildInstallApplication({ iTunesStoreID: 1, managementFlags: 2 }),
      'COMMAND.INVALID_ARGUMENT',
    );
    expectProtocolError(
      () => buildInstallApplication({ iTunesStoreID: '42' as unknown as number }),
      'COMMAND.INVALID_ARGUMENT',
    );
  });

  it('build Settings with one dictionary per item and refuse items without Item', () => {
    expect(
      buildSettings([{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 }]),
    ).toEqual({
      RequestType: 'Settings',
      Settings: [{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 }],
    });
    expectProtocolError(() => buildSettings([]), 'COMMAND.INVALID_ARGUMENT');
    expectProtocolError(() => buildSettings([{ DeviceName: 'x' }]), 'COMMAND.INVALID_ARGUMENT');
  });

  it('write the Return to Service idle timeout as an <integer>, never a <real> or <string>', () => {
    const xml = encodeCommand(
      'C-1',
      buildSettings([{ Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 }]),
    ).toString('utf8');

    expect(xml).toMatch(/<key>TemporarySessionTimeout<\/key>\s*<integer>900<\/integer>/);
    expect(parseCommand(Buffer.from(xml)).command['Settings']).toEqual([
      { Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 },
    ]);
  });

  it('refuse empty identifiers and queries', () => {
    expectProtocolError(() => buildRemoveProfile(''), 'COMMAND.INVALID_ARGUMENT');
    expectProtocolError(() => buildDeviceInformation([]), 'COMMAND.INVALID_ARGUMENT');
    expectProtocolError(() => buildManagedApplicationList(['']), 'COMMAND.INVALID_ARGUMENT');
  });
});

describe('buildSoftwareUpdateRequired', () => {
  const schema = readSchema('mdm/errors/softwareupdate.required.yaml');

  function expectDocumented(dict: PlistDict, prefix: string[] = []): void {
    for (const [key, value] of Object.entries(dict)) {
      const entry = findEntry(schema.payloadkeys, [...prefix, key]);

      expect({ key: [...prefix, key].join('.'), type: entry?.type }).toEqual({
        key: [...prefix, key].join('.'),
        type: schemaTypeOf(value),
      });
      if (entry?.type === 'dictionary') expectDocumented(value as PlistDict, [...prefix, key]);
    }
  }

  it('builds the minimal body: the code and details.OSVersion, both required', () => {
    expect(buildSoftwareUpdateRequired({ osVersion: '26.4' })).toEqual({
      code: 'com.apple.softwareupdate.required',
      details: { OSVersion: '26.4' },
    });
  });

  it('writes every option under the key names and types of the schema', () => {
    const body = buildSoftwareUpdateRequired({
      osVersion: '26.4 (a)',
      buildVersion: '23E100a',
      message: 'This device must update before setup can continue.',
      description: 'policy rts-visionos: minimum 26.4 (a)',
      requireBetaProgram: { description: 'Seed program', token: 'seed-token' },
    });

    expect(body).toEqual({
      code: SOFTWARE_UPDATE_REQUIRED_CODE,
      description: 'policy rts-visionos: minimum 26.4 (a)',
      message: 'This device must update before setup can continue.',
      details: {
        OSVersion: '26.4 (a)',
        BuildVersion: '23E100a',
        RequireBetaProgram: { Description: 'Seed program', Token: 'seed-token' },
      },
    });
    expectDocumented(body);
    expect(findEntry(schema.payloadkeys, ['code'])?.rangelist).toEqual([body.code]);
  });

  it('gives the same body as JSON and as an XML plist', () => {
    const body = buildSoftwareUpdateRequired({ osVersion: '26.10', buildVersion: '23H5' });

    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
    expect(decodePlist(encodePlistXml(body))).toEqual(body);
  });

  it.each<[string, unknown]>([
    ['no version', {}],
    ['a number, which loses digits (26.10 is 26.1)', { osVersion: 26.1 }],
    ['an empty version', { osVersion: '' }],
    ['a suffix without its space', { osVersion: '26.4(a)' }],
    ['a version with words', { osVersion: 'iOS 26.4' }],
    ['a build that is not an Apple build', { osVersion: '26.4', buildVersion: '26.4' }],
    ['a non-string message', { osVersion: '26.4', message: 42 }],
    [
      'a beta program without token',
      { osVersion: '26.4', requireBetaProgram: { description: 'x' } },
    ],
  ])('refuses %s', (_, options) => {
    expectProtocolError(
      () => buildSoftwareUpdateRequired(options as SoftwareUpdateRequiredOptions),
      'COMMAND.INVALID_ARGUMENT',
    );
  });
});

describe('encodeCommand and parseCommand', () => {
  it.each(listFixtures('command'))('parses %s and rebuilds an equal plist', (name) => {
    const body = readFixture('command', name);
    const { commandUuid, command } = parseCommand(body);

    expect(decodePlist(encodeCommand(commandUuid, command))).toEqual(decodePlist(body));
  });

  it('reads the fixtures identifiers and request types', () => {
    const read = (name: string): [string, string] => {
      const parsed = parseCommand(readFixture('command', name));

      return [parsed.commandUuid, parsed.requestType];
    };

    expect(read('erasedevice-apple-doc.plist')).toEqual(['0001_EraseDevice', 'EraseDevice']);
    expect(read('profilelist-jamf-school.plist')).toEqual([
      'b113a1e32e5247a78d30d132a8e11c59',
      'ProfileList',
    ]);
    expect(read('securityinfo-nanomdm-cmdr.plist')).toEqual([
      'd1b7fdda-52e1-45d1-80e6-8bf3b5d76f17',
      'SecurityInfo',
    ]);
    expect(
      Buffer.from(
        parseCommand(readFixture('command', 'installprofile-micromdm.plist')).command[
          'Payload'
        ] as Uint8Array,
      ).toString(),
    ).toBe('foobarbaz');
    expect(
      parseCommand(readFixture('command', 'deviceinformation-all-queries-apple-doc.plist')).command[
        'Queries'
      ],
    ).toHaveLength(73);
    expect(
      parseCommand(readFixture('command', 'installapplication-itunesstoreid-apple-doc.plist'))
        .command,
    ).toEqual(
      buildInstallApplication({ iTunesStoreID: 1096834193, managementFlags: 0, purchaseMethod: 1 }),
    );
    expect(parseCommand(readFixture('command', 'erasedevice-apple-doc.plist')).command).toEqual(
      buildEraseDevice({ disallowProximitySetup: false, preserveDataPlan: true }),
    );
    expect(
      parseCommand(readFixture('command', 'settings-devicename-apple-doc.plist')).command,
    ).toEqual(buildSettings([{ DeviceName: 'NewName', Item: 'DeviceName' }]));
  });

  it('writes {CommandUUID, Command} as XML', () => {
    const xml = encodeCommand('0001_DeviceConfigured', buildDeviceConfigured()).toString();

    expect(xml).toContain('<key>CommandUUID</key>\n\t<string>0001_DeviceConfigured</string>');
    expect(decodePlist(Buffer.from(xml))).toEqual(
      decodePlist(readFixture('command', 'deviceconfigured-apple-doc.plist')),
    );
  });

  it('accepts a binary command envelope', () => {
    const body = encodePlistBinary({ CommandUUID: 'C1', Command: { RequestType: 'SecurityInfo' } });

    expect(parseCommand(body)).toEqual({
      commandUuid: 'C1',
      requestType: 'SecurityInfo',
      command: { RequestType: 'SecurityInfo' },
    });
  });

  it('rejects malformed envelopes with COMMAND.MALFORMED', () => {
    const bad = [
      dictXml({ Command: dictXml({ RequestType: '<string>X</string>' }) }),
      dictXml({ CommandUUID: '<string>C</string>' }),
      dictXml({ CommandUUID: '<string>C</string>', Command: dictXml({}) }),
      dictXml({
        CommandUUID: '<integer>1</integer>',
        Command: dictXml({ RequestType: '<string>X</string>' }),
      }),
      dictXml({
        CommandUUID: '<string/>',
        Command: dictXml({ RequestType: '<string>X</string>' }),
      }),
      dictXml({ CommandUUID: '<string>C</string>', Command: '<array/>' }),
    ];

    for (const body of bad)
      expectProtocolError(() => parseCommand(xmlPlist(body)), 'COMMAND.MALFORMED');
  });

  it('refuses to encode without a CommandUUID or RequestType', () => {
    expectProtocolError(
      () => encodeCommand('', buildDeviceConfigured()),
      'COMMAND.INVALID_ARGUMENT',
    );
    expectProtocolError(() => encodeCommand('C', {}), 'COMMAND.INVALID_ARGUMENT');
  });
});
