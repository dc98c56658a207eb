import {
  ADE_PROFILE_STATUSES,
  readAdeAccount,
  readAdeDeviceDetails,
  readAdeDeviceList,
  readAdeProfile,
  readAdeProfileAssignment,
} from './ade.js';
import type { JsonObject, JsonValue } from './json-access.js';
import { ProtocolError } from './protocol.errors.js';
import { expectProtocolError } from './testing/expect-error.js';
import { listFixtures, readFixture } from './testing/fixtures.js';
import { countRefusedMutations } from './testing/json-mutations.js';

const json = (name: string): JsonObject => JSON.parse(readFixture('ade', name).toString('utf8'));

const READERS: Record<string, (input: unknown) => unknown> = {
  'account-response-2018.json': readAdeAccount,
  'device-details-response-2018.json': readAdeDeviceDetails,
  'devices-fetch-response-2018.json': readAdeDeviceList,
  'devices-fetch-response-2025.json': readAdeDeviceList,
  'devices-sync-response-empty.json': readAdeDeviceList,
  'profile-define-nanodep-example.json': readAdeProfile,
  'profile-define-request-is_return_to_service.json': readAdeProfile,
  'profile-define-response.json': readAdeProfileAssignment,
  'profile-fetch-response-2018.json': readAdeProfile,
  'profile-fetch-response-is_return_to_service.json': readAdeProfile,
};

describe('ADE readers on the real JSON', () => {
  it('has a reader for every ADE JSON fixture', () => {
    const jsonFixtures = listFixtures('ade').filter((name) => name.endsWith('.json'));

    expect(jsonFixtures).toEqual(Object.keys(READERS).sort());
    // The one plist is the MachineInfo capture, read in machine-info.spec.ts.
    expect(listFixtures('ade').filter((name) => !name.endsWith('.json'))).toEqual([
      'machineinfo-ios11-ipad.plist',
    ]);
  });

  it('reads each fixture the same from parsed JSON, text and bytes', () => {
    for (const [name, read] of Object.entries(READERS)) {
      const bytes = readFixture('ade', name);

      expect(read(bytes)).toEqual(read(json(name)));
      expect(read(bytes.toString('utf8'))).toEqual(read(json(name)));
    }
  });
});

describe('readAdeProfile', () => {
  it('reads the nanodep definition example, placeholder hints and all', () => {
    const profile = readAdeProfile(json('profile-define-nanodep-example.json'));

    expect(profile).toEqual({
      profileName: '(Required) Human readable name',
      url: 'https://mymdm.example.org/mdm/enroll',
      configurationWebUrl: '(Optional) sso.example.com/?redirect=enroll',
      allowPairing: true,
      autoAdvanceSetup: false,
      awaitDeviceConfigured: false,
      effectiveAwaitDeviceConfigured: false,
      department: '(Optional) support@example.com',
      isSupervised: false,
      isMultiUser: false,
      isMandatory: false,
      isMdmRemovable: true,
      language: '(Optional) en',
      orgMagic: '(Optional)',
      region: '(Optional) US',
      supportPhoneNumber: '(Optional) +1 408 555 1010',
      supportEmailAddress: '(Optional) support@example.com',
      anchorCerts: [],
      supervisingHostCerts: [],
      skipSetupItems: ['AppleID', 'Android'],
      devices: ['SERIAL1', 'SERIAL2'],
      raw: json('profile-define-nanodep-example.json'),
    });
    expect(profile.isReturnToService).toBeUndefined();
    expect(profile.profileUuid).toBeUndefined();
  });

  it('reads a Return to Service definition request', () => {
    const profile = readAdeProfile(json('profile-define-request-is_return_to_service.json'));

    expect(profile).toMatchObject({
      profileName: 'mdm-server-01-sales-profile',
      url: 'https://mdm-server-01.local',
      isReturnToService: true,
      awaitDeviceConfigured: true,
      effectiveAwaitDeviceConfigured: true,
      doNotUseProfileFromBackup: false,
      isSupervised: true,
      devices: ['M0D1D0D7CCR6', 'Z544Z6S4SGE4'],
      skipSetupItems: ['TapToSetup', 'iCloudDiagnostics', 'EnableLockdownMode', 'iCloudStorage'],
    });
    expect(profile.configurationWebUrl).toBeUndefined();
  });

  it('reads a fetched Return to Service profile with 43 skip items', () => {
    const profile = readAdeProfile(json('profile-fetch-response-is_return_to_service.json'));

    expect(profile).toMatchObject({
      profileName: 'MDM exmplco',
      profileUuid: '95C2189CB0EFB3192BC7B3C555091D22',
      orgMagic: 'exmplco GmbH',
      url: 'https://node.exmplco.net/srv/intra',
      isReturnToService: true,
      effectiveAwaitDeviceConfigured: true,
      isMultiUser: true,
      isMandatory: true,
      doNotUseProfileFromBackup: false,
      autoAdvanceSetup: true,
    });
    expect(profile.skipSetupItems).toHaveLength(43);
    expect(profile.skipSetupItems).toEqual(
      expect.arrayContaining(['Intelligence', 'SafetyAndHandling', 'Restore', 'TapToSetup']),
    );
    expect(profile.skipSetupItems?.[0]).toBe('Accessibility');
    expect(profile.configurationWebUrl).toBeUndefined();
    expect(profile.devices).toBeUndefined();
  });

  it('reads the 2018 fetched profile in the key order Apple returned', () => {
    const profile = readAdeProfile(json('profile-fetch-response-2018.json'));

    expect(profile).toMatchObject({
      profileName: 'default',
      profileUuid: 'C1F123098EB5074580041E69883004C3',
      orgMagic: '0729093D-D02C-4D8B-89DC-4EF900AED5B2',
      url: 'https://mdm.ex.test/mdm/enroll',
      awaitDeviceConfigured: true,
      effectiveAwaitDeviceConfigured: true,
      isMdmRemovable: true,
      skipSetupItems: ['AppleID', 'Android'],
    });
    expect(profile.isReturnToService).toBeUndefined();
    expect(profile.configurationWebUrl).toBeUndefined();
  });

  it('forces awaiting configuration whenever Return to Service is on', () => {
    const effective = (extra: JsonObject): boolean =>
      readAdeProfile({ profile_name: 'p', ...extra }).effectiveAwaitDeviceConfigured;

    expect(effective({ is_return_to_service: true, await_device_configured: false })).toBe(true);
    expect(effective({ is_return_to_service: true })).toBe(true);
    expect(effective({ is_return_to_service: false, await_device_configured: true })).toBe(true);
    expect(effective({ is_return_to_service: false, await_device_configured: false })).toBe(false);
    expect(effective({})).toBe(false);
  });

  it('keeps unknown keys in raw only', () => {
    const profile = readAdeProfile({
      profile_name: 'p',
      enable_lockdown: { level: 2 },
      supervised: true,
    });

    expect(profile.raw['enable_lockdown']).toEqual({ level: 2 });
    expect(Object.keys(profile).sort()).toEqual([
      'effectiveAwaitDeviceConfigured',
      'profileName',
      'raw',
    ]);
  });

  it('names the key that has the wrong type', () => {
    const wrong = (extra: JsonObject): ProtocolError =>
      expectProtocolError(() => readAdeProfile({ profile_name: 'p', ...extra }), 'ADE.MALFORMED');

    expect(wrong({ is_return_to_service: 'true' }).message).toContain('is_return_to_service');
    expect(wrong({ await_device_configured: null }).message).toContain('await_device_configured');
    expect(wrong({ configuration_web_url: 42 }).message).toContain('configuration_web_url');
    expect(wrong({ skip_setup_items: 'AppleID' }).message).toContain('skip_setup_items');
    expect(wrong({ skip_setup_items: ['AppleID', 7] }).message).toContain('skip_setup_items[1]');
    expect(wrong({ anchor_certs: {} }).message).toContain('anchor_certs');
    expect(wrong({ profile_name: null }).message).toContain('profile_name');
    expect(
      expectProtocolError(() => readAdeProfile({ url: 'https://x' }), 'ADE.MALFORMED').message,
    ).toContain('profile_name');
  });
});

describe('readAdeDeviceList', () => {
  it('reads the 2025 page: a pushed iPad and an iPhone with an empty profile_status', () => {
    const list = readAdeDeviceList(json('devices-fetch-response-2025.json'));
    const [ipad, iphone] = list.devices;

    expect(list).toMatchObject({
      moreToFollow: false,
      fetchedUntil: '2025-04-28T08:03:42Z',
      cursor: 'MDovOjE7NDU6Njc0MjIyODU1MTc0NTgyNzQyMjI3MTp0cnVlOjE0NDU7Mjc1LiIjUDU',
    });
    expect(list.devices).toHaveLength(2);
    expect(ipad).toMatchObject({
      serialNumber: 'T5ATR3L4YMG5',
      model: 'iPad mini 4',
      deviceFamily: 'iPad',
      profileStatus: 'pushed',
      profileUuid: '722081EC2F9D9F6CAC4106A7CE1AD6A7',
      profilePushTime: '2025-02-18T20:13:06Z',
    });
    expect(ipad?.mdmMigrationDeadline).toBeUndefined();
    expect(iphone).toEqual({
      serialNumber: 'W5769545753',
      description: 'IPHONE 14 MIDNIGHT 128GB-ZDD',
      model: 'iPhone 14',
      os: 'iOS',
      deviceFamily: 'iPhone',
      color: 'MIDNIGHT',
      profileUuid: '714081EC2F9D9F6CAC4152A79E1006B1',
      profileStatus: '',
      deviceAssignedBy: 'max.mustermann@exmplco.appleid.com',
      mdmMigrationDeadline: '2026-03-02T09:00:00Z',
      raw: (json('devices-fetch-response-2025.json')['devices'] as JsonValue[])[1],
    });
    expect(ADE_PROFILE_STATUSES).toContain(iphone?.profileStatus);
  });

  it('reads the 2018 page with one assigned Mac', () => {
    const list = readAdeDeviceList(json('devices-fetch-response-2018.json'));

    expect(list.devices).toEqual([
      expect.objectContaining({
        serialNumber: 'N56P1YD9SNR6',
        description: 'MBP 13.3 SPACE GRAY/2.0GHZ/8GB/256GB-USA',
        model: 'MacBook Pro',
        os: 'OSX',
        deviceFamily: 'Mac',
        color: 'SPACE GRAY',
        profileUuid: 'C1F123098EB5074580041E69883004C3',
        profileAssignTime: '2018-09-08T16:49:09Z',
        profileStatus: 'assigned',
        deviceAssignedBy: 'ade-admin@ex.test',
        deviceAssignedDate: '2017-10-16T01:55:30Z',
      }),
    ]);
    expect(list.moreToFollow).toBe(false);
  });

  it('reads an empty sync response as no devices', () => {
    expect(readAdeDeviceList(json('devices-sync-response-empty.json'))).toEqual({
      devices: [],
      moreToFollow: false,
      fetchedUntil: '2018-09-08T17:41:29Z',
      cursor: 'MDowOjE1MzY0Mjg0ODkzMDc6MTUzNjQyODQ4OTMwNzp0cnVlOjE1MzY0Mjg0ODkzMDc',
      raw: json('devices-sync-response-empty.json'),
    });
    expect(readAdeDeviceList({}).devices).toEqual([]);
  });

  it('reads sync operations, including a deleted record without profile_status', () => {
    const list = readAdeDeviceList({
      devices: [
        { serial_number: 'C02AAAAAAAAA', op_type: 'deleted', op_date: '2025-05-01T10:00:00Z' },
        { serial_number: 'C02BBBBBBBBB', op_type: 'added', profile_status: 'empty' },
      ],
      more_to_follow: true,
    });

    expect(list.moreToFollow).toBe(true);
    expect(list.devices.map(({ raw: _raw, ...device }) => device)).toEqual([
      { serialNumber: 'C02AAAAAAAAA', opType: 'deleted', opDate: '2025-05-01T10:00:00Z' },
      { serialNumber: 'C02BBBBBBBBB', opType: 'added', profileStatus: 'empty' },
    ]);
  });

  it('refuses mistyped pages and devices, naming the place', () => {
    const refuse = (input: unknown): string =>
      expectProtocolError(() => readAdeDeviceList(input), 'ADE.MALFORMED').message;

    expect(refuse({ devices: {} })).toContain('devices');
    expect(refuse({ devices: [null] })).toContain('devices[0]');
    expect(refuse({ devices: [{ model: 'iPad' }] })).toContain('serial_number');
    expect(refuse({ devices: [{ serial_number: 'S', profile_status: 0 }] })).toContain(
      'devices[0]: profile_status',
    );
    expect(refuse({ devices: [], more_to_follow: 'false' })).toContain('more_to_follow');
    expect(refuse({ devices: [], cursor: null })).toContain('cursor');
  });
});

describe('readAdeDeviceDetails', () => {
  it('reads the details response keyed by serial', () => {
    const details = readAdeDeviceDetails(json('device-details-response-2018.json'));

    expect(Object.keys(details.devices)).toEqual(['N56P1YD9SNR6']);
    expect(details.devices['N56P1YD9SNR6']).toMatchObject({
      serialNumber: 'N56P1YD9SNR6',
      responseStatus: 'SUCCESS',
      profileStatus: 'assigned',
      deviceFamily: 'Mac',
      os: 'OSX',
      profileAssignTime: '2018-09-08T16:49:09Z',
    });
  });

  it('takes the serial from the key when a record has none', () => {
    const details = readAdeDeviceDetails({
      devices: { C02NOTFOUND1: { response_status: 'NOT_FOUND' } },
    });

    expect(details.devices['C02NOTFOUND1']).toEqual({
      serialNumber: 'C02NOTFOUND1',
      responseStatus: 'NOT_FOUND',
      raw: { response_status: 'NOT_FOUND' },
    });
  });

  it('keeps a __proto__ serial as an own key without touching any prototype', () => {
    const details = readAdeDeviceDetails(
      '{"devices":{"__proto__":{"response_status":"NOT_FOUND","polluted":true}}}',
    );

    expect(Object.keys(details.devices)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(details.devices)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses an array where the serial map belongs, and null entries', () => {
    expect(
      expectProtocolError(() => readAdeDeviceDetails({ devices: [] }), 'ADE.MALFORMED').message,
    ).toContain('devices must be an object');
    expect(
      expectProtocolError(() => readAdeDeviceDetails({ devices: { S1: null } }), 'ADE.MALFORMED')
        .message,
    ).toContain('"S1"');
  });
});

describe('readAdeAccount', () => {
  it('reads the account, its endpoints and their limits', () => {
    const account = readAdeAccount(json('account-response-2018.json'));

    expect(account).toMatchObject({
      serverName: 'dev',
      serverUuid: '6666ED66666666666666666666666666',
      adminId: 'ade-admin@ex.test',
      facilitatorId: 'ade-admin@ex.test',
      orgName: 'Zeta, Inc',
      orgId: '6666666',
      orgIdHash: '01cpx35ceg4bt5jzrvs6s0h18201cpx35ceg4bt5jzrvs6s0h182',
      orgType: 'org',
      orgVersion: 'v2',
    });
    expect(account.urls).toHaveLength(18);

    const byUri = new Map(account.urls.map((url) => [url.uri, url]));

    expect(byUri.get('/server/devices')).toMatchObject({
      httpMethods: ['POST'],
      limit: { default: 1000, maximum: 5000 },
    });
    expect(byUri.get('/profile/devices')?.httpMethods).toEqual(['DELETE', 'POST', 'PUT']);
    expect(byUri.get('/session')?.limit).toBeUndefined();
  });

  it('refuses an account without server_uuid or with a mistyped url entry', () => {
    const refuse = (input: unknown): string =>
      expectProtocolError(() => readAdeAccount(input), 'ADE.MALFORMED').message;

    expect(refuse({ org_name: 'x' })).toContain('server_uuid');
    expect(refuse({ server_uuid: 'u', urls: {} })).toContain('urls');
    expect(refuse({ server_uuid: 'u', urls: [{ http_method: ['GET'] }] })).toContain('urls[0]');
    expect(refuse({ server_uuid: 'u', urls: [{ uri: '/a', limit: [] }] })).toContain('limit');
    expect(refuse({ server_uuid: 'u', urls: [{ uri: '/a', limit: { default: '9' } }] })).toContain(
      'default',
    );
  });
});

describe('readAdeProfileAssignment', () => {
  it('reads the new profile UUID and each serial status', () => {
    expect(readAdeProfileAssignment(json('profile-define-response.json'))).toEqual({
      profileUuid: 'F3325E3D2646895BC4261BDAC42D4708',
      devices: { M0D1D0D7CCR6: 'NOT_ACCESSIBLE', Z544Z6S4SGE4: 'SUCCESS' },
      raw: json('profile-define-response.json'),
    });
  });

  it('refuses a response without profile_uuid or with a non-string status', () => {
    expectProtocolError(() => readAdeProfileAssignment({ devices: {} }), 'ADE.MALFORMED');
    expect(
      expectProtocolError(
        () => readAdeProfileAssignment({ profile_uuid: 'U', devices: { S1: null } }),
        'ADE.MALFORMED',
      ).message,
    ).toContain('"S1" must be a string');
  });
});

describe('ADE readers on hostile input', () => {
  const readers = {
    readAdeProfile,
    readAdeDeviceList,
    readAdeDeviceDetails,
    readAdeAccount,
    readAdeProfileAssignment,
  };
  const roots: Array<[string, unknown]> = [
    ['null', null],
    ['undefined', undefined],
    ['an array', []],
    ['a number', 42],
    ['a Date', new Date(0)],
    ['JSON text of an array', '[1,2]'],
    ['text that is not JSON', 'not json'],
    ['truncated JSON bytes', Buffer.from('{"devices": [')],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['the JSON literal null', 'null'],
  ];

  for (const [readerName, read] of Object.entries(readers)) {
    for (const [name, input] of roots) {
      it(`${readerName} refuses ${name} with ADE.MALFORMED`, () => {
        expectProtocolError(() => read(input), 'ADE.MALFORMED');
      });
    }
  }

  it('never lets anything but ADE.MALFORMED escape for any one member replaced', () => {
    for (const [name, read] of Object.entries(READERS)) {
      expect(countRefusedMutations(json(name), read, 'ADE.MALFORMED')).toBeGreaterThan(0);
    }
  });
});
