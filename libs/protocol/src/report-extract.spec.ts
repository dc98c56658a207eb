import type { PlistDict } from './plist-types.js';
import { parseReport } from './report.js';
import {
  extractDeviceInformation,
  extractManagedApplications,
  extractSecurityInfo,
} from './report-extract.js';
import { readFixture } from './testing/fixtures.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const payloadOf = (name: string): PlistDict => parseReport(readFixture('report', name)).payload;

function reportPayload(entries: Record<string, string>): PlistDict {
  return parseReport(
    xmlPlist(
      dictXml({ UDID: '<string>U</string>', Status: '<string>Acknowledged</string>', ...entries }),
    ),
  ).payload;
}

describe('extractDeviceInformation', () => {
  it('reads an iOS 11 iPad, empty strings included', () => {
    const { value, unreadable } = extractDeviceInformation(
      payloadOf('ack-deviceinformation-ios11-ipad.plist'),
    );

    expect(unreadable).toEqual([]);
    expect(value).toEqual({
      udid: '1c111c111c111c111c111c111c111c111c111c11',
      serialNumber: 'C00000000004',
      productName: 'iPad4,1',
      model: 'MD786X',
      modelName: 'iPad',
      deviceName: 'iPad',
      osVersion: '11.3.1',
      buildVersion: '15E302',
      wifiMac: '00:00:00:00:00:00',
      bluetoothMac: '00:00:00:00:00:00',
      deviceCapacity: 26.914535522460938,
      availableDeviceCapacity: 15.468269348144531,
      isRoaming: false,
    });
  });

  it('reads a macOS 10.11 result with AwaitingConfiguration', () => {
    const { value, unreadable } = extractDeviceInformation(
      payloadOf('ack-deviceinformation-macos10.11.plist'),
    );

    expect(unreadable).toEqual([]);
    expect(value).toMatchObject({
      awaitingConfiguration: false,
      deviceCapacity: 464.82241058349609,
      hostName: 'micromdm-testing.dev',
      localHostName: 'micromdm-testing',
      osVersion: '10.11.6',
      productName: 'iMac15,1',
    });
  });

  it('reads a minimal result and a 22 KB result', () => {
    expect(
      extractDeviceInformation(payloadOf('ack-deviceinformation-macos10.12-minimal.plist')),
    ).toEqual({
      value: { udid: '4A5576EB-1427-414E-98EF-4C75764AE05D', hostName: 'melon.example.com' },
      unreadable: [],
    });
    expect(
      extractDeviceInformation(payloadOf('ack-deviceinformation-macos10.13-all-locales.plist'))
        .value,
    ).toMatchObject({ model: 'MacPro6,1', modelName: 'Mac Pro', serialNumber: 'AB123CD45G' });
  });

  it('converts what it can and nulls what it cannot, listing the latter (B19)', () => {
    const { value, unreadable } = extractDeviceInformation(
      reportPayload({
        QueryResponses: dictXml({
          BatteryLevel: '<real>nan</real>',
          DeviceCapacity: '<integer>64</integer>',
          AvailableDeviceCapacity: '<real>+infinity</real>',
          CellularTechnology: '<real>2</real>',
          LastCloudBackupDate: '<string>2024-01-01T00:00:00Z</string>',
          DeviceName: '<date>2024-02-03T04:05:06Z</date>',
          IsSupervised: '<string>not supported</string>',
          IsActivationLockEnabled: '<integer>1</integer>',
          IsMultiUser: '<string>false</string>',
          OSVersion: '<integer>17</integer>',
          SerialNumber: '<array/>',
          ServiceSubscriptions:
            '<array><dict><key>Slot</key><string>CTSubscriptionSlotOne</string></dict></array>',
          BrandNewKey: '<true/>',
        }),
      }),
    );

    expect(value).toEqual({
      batteryLevel: null,
      deviceCapacity: 64,
      availableDeviceCapacity: null,
      cellularTechnology: 2,
      lastCloudBackupDate: new Date('2024-01-01T00:00:00Z'),
      deviceName: '2024-02-03T04:05:06.000Z',
      isSupervised: null,
      isActivationLockEnabled: true,
      isMultiUser: false,
      osVersion: '17',
      serialNumber: null,
    });
    expect(unreadable).toEqual([
      { path: 'QueryResponses.SerialNumber', reason: 'expected string, got an array', raw: [] },
      {
        path: 'QueryResponses.AvailableDeviceCapacity',
        reason: 'non-finite number Infinity',
        raw: Infinity,
      },
      { path: 'QueryResponses.BatteryLevel', reason: 'non-finite number NaN', raw: Number.NaN },
      {
        path: 'QueryResponses.IsSupervised',
        reason: 'expected boolean, got a string',
        raw: 'not supported',
      },
    ]);
  });

  it('never throws on payloads of the wrong shape', () => {
    expect(extractDeviceInformation({})).toEqual({ value: {}, unreadable: [] });
    expect(extractDeviceInformation({ QueryResponses: 'x' }).unreadable).toHaveLength(1);
    expect(extractDeviceInformation(null as unknown as PlistDict).unreadable).toHaveLength(1);
    expect(extractDeviceInformation({ QueryResponses: { UDID: 2n ** 64n - 1n } }).value).toEqual({
      udid: '18446744073709551615',
    });
  });
});

describe('extractSecurityInfo', () => {
  it('reads ManagementStatus and the bootstrap-token fields of macOS 13', () => {
    const { value, unreadable } = extractSecurityInfo(payloadOf('ack-securityinfo-macos13.plist'));

    expect(unreadable).toEqual([]);
    expect(value).toEqual({
      authenticatedRootVolumeEnabled: true,
      bootstrapTokenAllowedForAuthentication: 'disallowed',
      bootstrapTokenRequiredForKernelExtensionApproval: true,
      bootstrapTokenRequiredForSoftwareUpdate: true,
      fdeEnabled: true,
      fdeHasInstitutionalRecoveryKey: false,
      fdeHasPersonalRecoveryKey: true,
      isRecoveryLockEnabled: false,
      remoteDesktopEnabled: false,
      systemIntegrityProtectionEnabled: true,
      enrolledViaDep: false,
      isActivationLockManageable: true,
      isUserEnrollment: false,
      userApprovedEnrollment: true,
    });
  });

  it('reads iOS passcode fields given as integers', () => {
    expect(extractSecurityInfo(payloadOf('ack-securityinfo-ios.plist'))).toEqual({
      value: {
        hardwareEncryptionCaps: 3,
        isUserEnrollment: false,
        passcodeCompliant: true,
        passcodeCompliantWithProfiles: true,
        passcodeLockGracePeriod: 0,
        passcodeLockGracePeriodEnforced: 0,
        passcodePresent: false,
      },
      unreadable: [],
    });
    expect(
      extractSecurityInfo(payloadOf('ack-securityinfo-ios9.plist')).value.hardwareEncryptionCaps,
    ).toBe(3);
    expect(extractSecurityInfo(payloadOf('ack-securityinfo-macos10.13.plist')).value).toEqual({
      fdeEnabled: false,
      systemIntegrityProtectionEnabled: false,
    });
  });

  it('nulls a string where a boolean is expected and keeps the report usable (B19)', () => {
    const { value, unreadable } = extractSecurityInfo(
      reportPayload({
        SecurityInfo: dictXml({
          BootstrapTokenAllowedForAuthentication: '<string>not supported</string>',
          FDE_Enabled: '<string>not supported</string>',
          ManagementStatus: dictXml({
            EnrolledViaDEP: '<true/>',
            IsActivationLockManageable: '<string>not supported</string>',
          }),
        }),
      }),
    );

    expect(value).toEqual({
      bootstrapTokenAllowedForAuthentication: 'not supported',
      fdeEnabled: null,
      enrolledViaDep: true,
      isActivationLockManageable: null,
    });
    expect(unreadable.map((u) => u.path)).toEqual([
      'SecurityInfo.FDE_Enabled',
      'SecurityInfo.ManagementStatus.IsActivationLockManageable',
    ]);
  });
});

describe('extractManagedApplications', () => {
  it('lists InstalledApplicationList entries with the big BundleSize and the web app without Identifier', () => {
    const { value, unreadable } = extractManagedApplications(
      payloadOf('ack-installedapplicationlist-macos13-bigint.plist'),
    );

    expect(unreadable).toEqual([]);
    expect(value).toEqual([
      {
        list: 'InstalledApplicationList',
        identifier: 'com.apple.mail',
        name: 'Mail',
        shortVersion: '16.0',
        version: '16.0',
        bundleSize: 1,
        installing: false,
      },
      {
        list: 'InstalledApplicationList',
        identifier: 'com.apple.dt.Xcode',
        name: 'Xcode',
        shortVersion: '14.0',
        version: '14.0',
        bundleSize: 23048830844,
        externalVersionIdentifier: 851890269,
        hasUpdateAvailable: false,
        installing: false,
      },
      {
        list: 'InstalledApplicationList',
        name: 'https+++lucid',
        bundleSize: 819268,
        installing: false,
      },
    ]);
  });

  it('lists an iOS 11 InstalledApplicationList with its App Store flags', () => {
    const { value } = extractManagedApplications(
      payloadOf('ack-installedapplicationlist-ios11.plist'),
    );

    expect(value.map((app) => app.identifier)).toEqual([
      'com.microsoft.lync2013.iphone',
      'com.agilebits.onepassword-ios',
      'com.microsoft.Office.Powerpoint',
      'com.panic.Prompt2',
      'com.microsoft.onenote',
    ]);
    expect(value[2]).toMatchObject({
      appStoreVendable: true,
      deviceBasedVpp: false,
      dynamicSize: 303104,
      externalVersionIdentifier: 827416674,
      hasUpdateAvailable: true,
    });
  });

  it('lists ManagedApplicationList entries keyed by bundle identifier', () => {
    expect(
      extractManagedApplications(payloadOf('ack-managedapplicationlist-enterprise.plist')),
    ).toEqual({
      value: [
        {
          list: 'ManagedApplicationList',
          identifier: 'com.acme.myenterpriseapp',
          externalVersionIdentifier: 0,
          hasConfiguration: false,
          hasFeedback: false,
          isValidated: true,
          managementFlags: 0,
          status: 'Managed',
        },
      ],
      unreadable: [],
    });
    expect(
      extractManagedApplications(
        payloadOf('ack-managedapplicationlist-ios12-failed.plist'),
      ).value.map((app) => [app.identifier, app.status]),
    ).toEqual([
      ['com.apple.iWork.Keynote', 'Failed'],
      ['com.tinyspeck.slackmacgap', 'Failed'],
    ]);
    expect(
      extractManagedApplications(payloadOf('ack-managedapplicationlist-ios12-managed.plist'))
        .value[0],
    ).toMatchObject({ identifier: 'com.apple.Numbers', externalVersionIdentifier: 829165942 });
  });

  it('skips entries that are not dictionaries and converts mistyped fields (B19)', () => {
    const { value, unreadable } = extractManagedApplications(
      reportPayload({
        InstalledApplicationList:
          '<array><string>junk</string><dict><key>BundleSize</key><real>12.0</real>' +
          '<key>Installing</key><string>maybe</string><key>ExternalVersionIdentifier</key>' +
          '<integer>18446744073709551615</integer></dict></array>',
        ManagedApplicationList: dictXml({ 'com.x': '<true/>' }),
      }),
    );

    expect(value).toEqual([
      {
        list: 'InstalledApplicationList',
        bundleSize: 12,
        installing: null,
        externalVersionIdentifier: null,
      },
    ]);
    expect(unreadable.map((u) => u.path)).toEqual([
      'ManagedApplicationList.com.x',
      'InstalledApplicationList[0]',
      'InstalledApplicationList[1].ExternalVersionIdentifier',
      'InstalledApplicationList[1].Installing',
    ]);
  });

  it('returns nothing for a report without application lists', () => {
    expect(extractManagedApplications(payloadOf('ack-plain-macos10.13.plist'))).toEqual({
      value: [],
      unreadable: [],
    });
  });
});
