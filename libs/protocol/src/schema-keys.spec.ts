import { readFileSync } from 'node:fs';
import path from 'node:path';

import { checkInFromPlist, type CheckInMessageType } from './checkin.js';
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
  type Command,
} from './commands.js';
import {
  buildEnrollmentProfile,
  MDM_PAYLOAD_TYPE,
  PKCS12_PAYLOAD_TYPE,
  SERVER_CAPABILITIES,
} from './enrollment-profile.js';
import { SCEP_PAYLOAD_TYPE } from './scep-payload.js';
import { decodePlist, encodePlistXml } from './plist-codec.js';
import { isPlistDict, type PlistDict } from './plist-types.js';
import { inspectWifiPayloads, parseProfile, WIFI_PAYLOAD_TYPE } from './profiles.js';
import {
  DEVICE_INFORMATION_FIELDS,
  INSTALLED_APPLICATION_FIELDS,
  MANAGED_APPLICATION_FIELDS,
  MANAGEMENT_STATUS_FIELDS,
  SECURITY_INFO_FIELDS,
  type FieldSpec,
} from './report-extract.js';
import {
  findEntry,
  readSchema,
  sampleDictionary,
  schemaExists,
  schemaTypeOf,
  type SchemaEntry,
} from './testing/schema-yaml.js';
import { readFixture } from './testing/fixtures.js';

// Every key name a builder writes, a parser reads or an extractor looks up is checked against
// Apple's schema YAML in shared/reference/apple-device-management. Key names are never guessed.

const profileBytes = readFixture('profile', 'wifi-return-to-service-hidden-any.mobileconfig');

/** Asserts each key of `dict` (recursively for dictionaries) is documented under `prefix`. */
function expectDocumented(
  dict: PlistDict,
  entries: SchemaEntry[],
  prefix: string[],
  file: string,
): void {
  for (const [key, value] of Object.entries(dict)) {
    const keyPath = [...prefix, key];
    const entry = findEntry(entries, keyPath);

    expect({ file, key: keyPath.join('.'), documented: entry !== undefined }).toEqual({
      file,
      key: keyPath.join('.'),
      documented: true,
    });
    expect({ key: keyPath.join('.'), type: schemaTypeOf(value) }).toEqual({
      key: keyPath.join('.'),
      type: entry?.type,
    });
    if (
      isPlistDict(value) &&
      !entries.some((e) => e.path.length > keyPath.length && e.path[keyPath.length] === 'ANY')
    ) {
      expectDocumented(value, entries, keyPath, file);
    }
  }
}

describe('command builders against mdm/commands/*.yaml', () => {
  const cases: Array<[string, Command]> = [
    [
      'device.erase.yaml',
      buildEraseDevice({
        preserveDataPlan: true,
        disallowProximitySetup: true,
        pin: '123456',
        obliterationBehavior: 'Default',
        returnToService: {
          enabled: true,
          wifiProfileData: profileBytes,
          mdmProfileData: profileBytes,
          bootstrapToken: new Uint8Array([1]),
          shouldRetryEnrollment: true,
        },
      }),
    ],
    ['profile.install.yaml', buildInstallProfile(profileBytes)],
    ['profile.remove.yaml', buildRemoveProfile('com.example')],
    ['profile.list.yaml', buildProfileList({ managedOnly: true })],
    [
      'application.install.yaml',
      buildInstallApplication({
        iTunesStoreID: 1,
        managementFlags: 5,
        purchaseMethod: 1,
        configuration: {},
        attributes: { Removable: false },
        changeManagementState: 'Managed',
        installAsManaged: true,
        iOSApp: false,
      }),
    ],
    ['application.install.yaml', buildInstallApplication({ identifier: 'com.example.app' })],
    [
      'application.install.yaml',
      buildInstallApplication({ manifestURL: 'https://example.test/manifest.plist' }),
    ],
    ['application.managed.list.yaml', buildManagedApplicationList(['com.example.app'])],
    [
      'application.installed.list.yaml',
      buildInstalledApplicationList({ identifiers: ['com.example.app'], managedAppsOnly: true }),
    ],
    ['information.device.yaml', buildDeviceInformation(['UDID', 'AwaitingConfiguration'])],
    ['information.security.yaml', buildSecurityInfo()],
    ['device.configured.yaml', buildDeviceConfigured()],
    ['settings.yaml', buildSettings([{ Item: 'DeviceName', DeviceName: 'x' }])],
    ['device.activationlock.bypasscode.yaml', buildActivationLockBypassCode()],
    ['device.activationlock.clearbypasscode.yaml', buildClearActivationLockBypassCode()],
  ];

  it.each(cases)('%s documents every key the builder writes', (file, command) => {
    const schema = readSchema(`mdm/commands/${file}`);
    const { RequestType, Settings, ...keys } = command;

    expect(RequestType).toBe(schema.requestType);
    expectDocumented(keys, schema.payloadkeys, [], file);
    if (Settings !== undefined) {
      for (const item of Settings as PlistDict[]) {
        expectDocumented(item, schema.payloadkeys, ['Settings', String(item['Item'])], file);
      }
    }
  });

  it('uses DeviceInformation query names the schema lists', () => {
    const schema = readSchema('mdm/commands/information.device.yaml');

    for (const query of [
      'UDID',
      'AwaitingConfiguration',
      'SerialNumber',
      'IsActivationLockEnabled',
    ]) {
      expect(findEntry(schema.payloadkeys, ['Queries', 'QueriesItem', query])).toBeDefined();
    }
  });

  it('uses the SharedDeviceConfiguration keys of the Return to Service idle timeout', () => {
    const schema = readSchema('mdm/commands/settings.yaml');

    expectDocumented(
      { Item: 'SharedDeviceConfiguration', TemporarySessionTimeout: 900 },
      schema.payloadkeys,
      ['Settings', 'SharedDeviceConfiguration'],
      'settings.yaml',
    );
  });

  it('checkin/returntoservice.yaml documents every key of the ReturnToService reply', () => {
    const schema = readSchema('mdm/checkin/returntoservice.yaml');
    const response = buildReturnToServiceResponse({
      preserveDataPlan: true,
      returnToService: {
        enabled: true,
        wifiProfileData: profileBytes,
        mdmProfileData: profileBytes,
        bootstrapToken: new Uint8Array([1]),
        shouldRetryEnrollment: true,
      },
    });

    expectDocumented(response, schema.responsekeys, [], 'returntoservice.yaml');
  });
});

describe('check-in parser against mdm/checkin/*.yaml', () => {
  // Identifier keys are read for every message type; the TokenUpdate schema documents all of
  // them (SetBootstrapToken/GetBootstrapToken schemas list none, though devices send UDID).
  const identifierKeys = [
    'UDID',
    'EnrollmentID',
    'EnrollmentUserID',
    'UserID',
    'UserShortName',
    'UserLongName',
  ];
  const tokenUpdate = readSchema('mdm/checkin/tokenupdate.yaml');

  const files: Record<CheckInMessageType, [string, string[]]> = {
    Authenticate: [
      'authenticate.yaml',
      [
        'topic',
        'osVersion',
        'buildVersion',
        'productName',
        'serialNumber',
        'imei',
        'meid',
        'deviceName',
        'model',
        'modelName',
      ],
    ],
    TokenUpdate: [
      'tokenupdate.yaml',
      ['topic', 'token', 'pushMagic', 'unlockToken', 'awaitingConfiguration', 'notOnConsole'],
    ],
    CheckOut: ['checkout.yaml', ['topic']],
    SetBootstrapToken: ['setbootstraptoken.yaml', ['bootstrapToken', 'awaitingConfiguration']],
    GetBootstrapToken: ['getbootstraptoken.yaml', ['awaitingConfiguration']],
    ReturnToService: ['returntoservice.yaml', []],
    DeclarativeManagement: ['declarativemanagement.yaml', ['endpoint', 'data']],
    UserAuthenticate: ['userauthenticate.yaml', ['digestResponse']],
    GetToken: ['gettoken.yaml', ['tokenServiceType', 'tokenParameters']],
  };

  it('documents every identifier key in the TokenUpdate schema', () => {
    for (const key of identifierKeys)
      expect(findEntry(tokenUpdate.payloadkeys, [key])?.type).toBe('string');
  });

  it.each(Object.entries(files))(
    '%s: every typed field comes from a documented key',
    (type, [file, fields]) => {
      const schema = readSchema(`mdm/checkin/${file}`);
      const dict = sampleDictionary(schema.payloadkeys);

      expect(schema.requestType).toBe(type);
      for (const key of identifierKeys) {
        dict[key] ??= 'sample';
      }
      dict['MessageType'] = type;

      const message = checkInFromPlist(dict) as unknown as Record<string, unknown>;

      for (const field of [
        ...fields,
        'udid',
        'enrollmentId',
        'enrollmentUserId',
        'userId',
        'userShortName',
        'userLongName',
      ]) {
        expect({ type, field, defined: message[field] !== undefined }).toEqual({
          type,
          field,
          defined: true,
        });
      }
      if (type === 'GetToken') {
        expect(message['tokenParameters']).toEqual({
          securityToken: 'sample',
          phoneUdid: 'sample',
          watchUdid: 'sample',
        });
      }
      if (type === 'SetBootstrapToken')
        expect(message['bootstrapToken']).toMatchObject({ action: 'store' });
    },
  );
});

describe('result extractors against the response schemas', () => {
  const cases: Array<[string, string[], readonly FieldSpec<never>[]]> = [
    [
      'information.device.yaml',
      ['QueryResponses'],
      DEVICE_INFORMATION_FIELDS as readonly FieldSpec<never>[],
    ],
    [
      'information.security.yaml',
      ['SecurityInfo'],
      SECURITY_INFO_FIELDS as readonly FieldSpec<never>[],
    ],
    [
      'information.security.yaml',
      ['SecurityInfo', 'ManagementStatus'],
      MANAGEMENT_STATUS_FIELDS as readonly FieldSpec<never>[],
    ],
    [
      'application.installed.list.yaml',
      ['InstalledApplicationList', 'InstalledApplicationListItem'],
      INSTALLED_APPLICATION_FIELDS as readonly FieldSpec<never>[],
    ],
    [
      'application.managed.list.yaml',
      ['ManagedApplicationList', 'ANY app identifier'],
      MANAGED_APPLICATION_FIELDS as readonly FieldSpec<never>[],
    ],
  ];

  it.each(cases)(
    '%s %j: each key exists with the kind the extractor expects',
    (file, prefix, fields) => {
      const schema = readSchema(`mdm/commands/${file}`);

      for (const spec of fields) {
        const entry = findEntry(schema.responsekeys, [...prefix, spec.key]);

        expect({ key: spec.key, type: entry?.type }).toEqual({ key: spec.key, type: spec.kind });
      }
    },
  );
});

describe('profiles against mdm/profiles/*.yaml', () => {
  // com.apple.security.pkcs12.yaml is not part of the stored reference copy. Its keys were read
  // from apple/device-management mdm/profiles/com.apple.security.pkcs12.yaml at commit
  // 0a4527c5ea21825fd23e08273ccdb9e2302458ce (names and types only).
  const PKCS12_KEYS_WHEN_NOT_STORED: Record<string, string> = {
    PayloadCertificateFileName: 'string',
    PayloadContent: 'data',
    Password: 'string',
    AllowAllAppsAccess: 'boolean',
    KeyIsExtractable: 'boolean',
  };
  const common = readSchema('mdm/profiles/CommonPayloadKeys.yaml');
  const topLevel = readSchema('mdm/profiles/TopLevel.yaml');
  const mdmSchema = readSchema('mdm/profiles/com.apple.mdm.yaml');

  function documentedType(schemas: SchemaEntry[][], key: string): string | undefined {
    for (const entries of schemas) {
      const entry = findEntry(entries, [key]);

      if (entry !== undefined) return entry.type;
    }

    return undefined;
  }

  const profile = decodePlist(
    buildEnrollmentProfile({
      serverUrl: 'https://mdm.example.test/mdm',
      checkInUrl: 'https://mdm.example.test/checkin',
      topic: 'com.apple.mgmt.External.TEST-A',
      identity: { pkcs12: new Uint8Array([0x30, 0x00]), password: 'p' },
      organization: 'Org',
      displayName: 'Name',
      payloadIdentifierPrefix: 'test.example',
    }),
  ) as PlistDict;

  it('TopLevel.yaml documents every top-level key of the enrollment profile', () => {
    for (const [key, value] of Object.entries(profile)) {
      expect({ key, type: schemaTypeOf(value) }).toEqual({
        key,
        type: documentedType([topLevel.payloadkeys], key),
      });
    }
  });

  it('com.apple.mdm.yaml and CommonPayloadKeys.yaml document every MDM payload key', () => {
    const mdm =
      (profile['PayloadContent'] as PlistDict[]).find(
        (p) => p['PayloadType'] === MDM_PAYLOAD_TYPE,
      ) ?? {};

    expect(mdmSchema.payloadType).toBe(MDM_PAYLOAD_TYPE);
    expect(Object.keys(mdm).length).toBeGreaterThan(10);
    for (const [key, value] of Object.entries(mdm)) {
      expect({ key, type: schemaTypeOf(value) }).toEqual({
        key,
        type: documentedType([mdmSchema.payloadkeys, common.payloadkeys], key),
      });
    }
  });

  it('the PKCS#12 schema documents every identity payload key', () => {
    const identity =
      (profile['PayloadContent'] as PlistDict[]).find(
        (p) => p['PayloadType'] === PKCS12_PAYLOAD_TYPE,
      ) ?? {};
    const stored = schemaExists('mdm/profiles/com.apple.security.pkcs12.yaml');
    const pkcs12Entries = stored
      ? readSchema('mdm/profiles/com.apple.security.pkcs12.yaml').payloadkeys
      : Object.entries(PKCS12_KEYS_WHEN_NOT_STORED).map(([key, type]) => ({
          path: [key],
          type,
          rangelist: [],
        }));

    for (const [key, value] of Object.entries(identity)) {
      expect({ key, type: schemaTypeOf(value) }).toEqual({
        key,
        type: documentedType([pkcs12Entries, common.payloadkeys], key),
      });
    }
  });

  it('com.apple.security.scep.yaml documents every key and value of the SCEP identity payload', () => {
    const scepSchema = readSchema('mdm/profiles/com.apple.security.scep.yaml');
    const built = decodePlist(
      buildEnrollmentProfile({
        serverUrl: 'https://mdm.example.test/mdm',
        topic: 'com.apple.mgmt.External.TEST-A',
        identity: {
          scep: {
            url: 'https://mdm.example.test/scep',
            challenge: 'c',
            name: 'CA',
            subject: [[['CN', 'device']]],
          },
        },
        organization: 'Org',
        displayName: 'Name',
        payloadIdentifierPrefix: 'test.example',
      }),
    ) as PlistDict;
    const scep =
      (built['PayloadContent'] as PlistDict[]).find(
        (p) => p['PayloadType'] === SCEP_PAYLOAD_TYPE,
      ) ?? {};
    const { PayloadContent: content, ...keys } = scep;

    expect(scepSchema.payloadType).toBe(SCEP_PAYLOAD_TYPE);
    for (const [key, value] of Object.entries(keys)) {
      expect({ key, type: schemaTypeOf(value) }).toEqual({
        key,
        type: documentedType([scepSchema.payloadkeys, common.payloadkeys], key),
      });
    }
    expect(Object.keys(content as PlistDict).sort()).toEqual(
      ['Challenge', 'Key Type', 'Key Usage', 'Keysize', 'Name', 'Subject', 'URL'].sort(),
    );
    expectDocumented(
      content as PlistDict,
      scepSchema.payloadkeys,
      ['PayloadContent'],
      'com.apple.security.scep.yaml',
    );
    expect(findEntry(scepSchema.payloadkeys, ['PayloadContent', 'Keysize'])?.rangelist).toContain(
      String((content as PlistDict)['Keysize']),
    );
  });

  it('SERVER_CAPABILITIES matches the schema rangelist', () => {
    expect(
      findEntry(mdmSchema.payloadkeys, ['ServerCapabilities', 'ServerCapabilitiesItems'])
        ?.rangelist,
    ).toEqual([...SERVER_CAPABILITIES]);
  });

  it('com.apple.wifi.managed.yaml documents every key the Wi-Fi inspection reads', () => {
    const wifiSchema = readSchema('mdm/profiles/com.apple.wifi.managed.yaml');
    const payload: PlistDict = {
      ...sampleDictionary(wifiSchema.payloadkeys),
      PayloadType: WIFI_PAYLOAD_TYPE,
      PayloadIdentifier: 'w',
      PayloadUUID: 'W',
      PayloadCertificateUUID: 'W',
    };

    (payload['EAPClientConfiguration'] as PlistDict)['AcceptEAPTypes'] = [25];
    (payload['EAPClientConfiguration'] as PlistDict)['PayloadCertificateAnchorUUID'] = ['W'];
    (payload['EAPClientConfiguration'] as PlistDict)['TLSTrustedServerNames'] = [
      'radius.example.test',
    ];

    const [inspection] = inspectWifiPayloads(
      parseProfile(
        encodePlistXml({
          PayloadType: 'Configuration',
          PayloadIdentifier: 'p',
          PayloadUUID: 'P',
          PayloadContent: [payload],
        }),
      ),
    );

    expect(wifiSchema.payloadType).toBe(WIFI_PAYLOAD_TYPE);
    for (const [field, value] of Object.entries(inspection ?? {})) {
      expect({ field, defined: value !== undefined }).toEqual({ field, defined: true });
    }
    expect(inspection).toMatchObject({
      ssid: 'sample',
      hasPassword: true,
      hasQoSMarkingPolicy: true,
      allowJoinBeforeFirstUnlock: true,
      identityCertificate: { includedInProfile: true },
      eap: {
        acceptEAPTypes: [25],
        hasStoredCredentials: true,
        oneTimeUserPassword: true,
        trustAnchors: [{ uuid: 'W', includedInProfile: true }],
        tlsTrustedServerNames: ['radius.example.test'],
      },
    });
  });
});

describe('report envelope keys against the protocol digest', () => {
  // The report envelope and ErrorChain are described in prose, not in a schema YAML; the
  // shared protocol digest (section 3) is the written source for these names.
  const digest = readFileSync(
    path.resolve(process.cwd(), '../shared/docs/apple-mdm-protocol.md'),
    'utf8',
  );

  it.each([
    'CommandUUID',
    'Status',
    'ErrorChain',
    'ErrorCode',
    'ErrorDomain',
    'LocalizedDescription',
    'USEnglishDescription',
    'RequestType',
    'Idle',
    'Acknowledged',
    'Error',
    'CommandFormatError',
    'NotNow',
  ])('the digest names %s', (name) => {
    expect(digest).toContain(`\`${name}\``);
  });
});
