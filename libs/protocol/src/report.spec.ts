import { encodePlistBinary } from './plist-codec.js';
import type { PlistDict } from './plist-types.js';
import { parseReport, type CommandReport } from './report.js';
import { expectProtocolError } from './testing/expect-error.js';
import { listFixtures, readFixture } from './testing/fixtures.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const report = (name: string): CommandReport => parseReport(readFixture('report', name));
const str = (text: string): string => `<string>${text}</string>`;
const IOS11 = '1c111c111c111c111c111c111c111c111c111c11';
const PLACEHOLDER = '00000000-1111-2222-3333-444455556666';

// status, CommandUUID, device identifier, echoed RequestType, result key beyond the basics
const EXPECTED: Record<string, [string, string | undefined, string, string | undefined, string?]> =
  {
    'ack-availableosupdates-ios11.plist': [
      'Acknowledged',
      '8fb53ef6-5fcd-46c2-bf05-ee502406f240',
      IOS11,
      undefined,
      'AvailableOSUpdates',
    ],
    'ack-availableosupdates-macos10.12-configdata.plist': [
      'Acknowledged',
      PLACEHOLDER,
      PLACEHOLDER,
      'AvailableOSUpdates',
      'AvailableOSUpdates',
    ],
    'ack-certificatelist-identity-and-ca.plist': [
      'Acknowledged',
      '0001-CertificateList',
      '00008020-6C03E7918E2F9D3E',
      undefined,
      'CertificateList',
    ],
    'ack-certificatelist-macos10.11.plist': [
      'Acknowledged',
      PLACEHOLDER,
      PLACEHOLDER,
      'CertificateList',
      'CertificateList',
    ],
    'ack-deviceinformation-ios11-ipad.plist': [
      'Acknowledged',
      '3ab89975-490b-4f33-80c7-0982069272ba',
      IOS11,
      undefined,
      'QueryResponses',
    ],
    'ack-deviceinformation-macos10.11.plist': [
      'Acknowledged',
      PLACEHOLDER,
      PLACEHOLDER,
      'DeviceInformation',
      'QueryResponses',
    ],
    'ack-deviceinformation-macos10.12-minimal.plist': [
      'Acknowledged',
      '76eda240-5488-4989-8339-f2ae160113c4',
      '4A5576EB-1427-414E-98EF-4C75764AE05D',
      'DeviceInformation',
      'QueryResponses',
    ],
    'ack-deviceinformation-macos10.13-all-locales.plist': [
      'Acknowledged',
      'be926f7e-9cd2-465a-ba2b-b573dc4eaa7a',
      PLACEHOLDER,
      undefined,
      'QueryResponses',
    ],
    'ack-devicelock-messageresult-ios11.plist': [
      'Acknowledged',
      'b6c8627f-bf4a-4ef4-8f40-d8673cd568c9',
      IOS11,
      undefined,
      'MessageResult',
    ],
    'ack-installapplication-installing-apple-doc.plist': [
      'Acknowledged',
      '0001_InstallApplication',
      '00008020-6C03E7918E2F9D3E',
      undefined,
      'State',
    ],
    'ack-installapplication-prompting-ios12.plist': [
      'Acknowledged',
      '7a9df3db-d661-4c1c-aa0e-56d69c8718a5',
      IOS11,
      undefined,
      'State',
    ],
    'ack-installapplication-queued-macos10.12.plist': [
      'Acknowledged',
      '4743f890-babd-480d-96f8-d857884cf7f1',
      'AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA',
      'InstallApplication',
      'Queued',
    ],
    'ack-installedapplicationlist-ios11.plist': [
      'Acknowledged',
      '368b6b82-f89c-4af7-8a02-ed72af86116c',
      IOS11,
      undefined,
      'InstalledApplicationList',
    ],
    'ack-installedapplicationlist-macos13-bigint.plist': [
      'Acknowledged',
      'E615AD27-A6DA-479A-AE17-FBCF754E1B31',
      'F5184311-4FD4-4938-AE07-FE1FBB64AB44',
      undefined,
      'InstalledApplicationList',
    ],
    'ack-installenterpriseapplication-queued-apple-doc.plist': [
      'Acknowledged',
      '0001_InstallEnterpriseApplication',
      'D68507B4-8684-4EE2-9867-D87090D46C31',
      undefined,
      'Queued',
    ],
    'ack-managedapplicationlist-enterprise.plist': [
      'Acknowledged',
      '79AEDFB0-686C-45AD-9F44-E92D36E4EEE0',
      'D822B74B-82FA-4D36-8DA6-1D08A24C08BD',
      undefined,
      'ManagedApplicationList',
    ],
    'ack-managedapplicationlist-ios12-failed.plist': [
      'Acknowledged',
      '7fc66d05-4bdb-41e4-9814-5a4c21e74e16',
      IOS11,
      undefined,
      'ManagedApplicationList',
    ],
    'ack-managedapplicationlist-ios12-managed.plist': [
      'Acknowledged',
      '0a40830d-1cf9-4a00-a153-d8294e576c3f',
      IOS11,
      undefined,
      'ManagedApplicationList',
    ],
    'ack-plain-macos10.13.plist': [
      'Acknowledged',
      '41d35de3-a343-4146-ba4b-0069bae2a54f',
      '236BDBAB-FC14-48E6-894B-D644BC3E5829',
      undefined,
    ],
    'ack-profilelist-ios11.plist': [
      'Acknowledged',
      '2d1d3845-3e06-4687-a357-b343ebb17888',
      IOS11,
      undefined,
      'ProfileList',
    ],
    'ack-profilelist-macos-signercertificates.plist': [
      'Acknowledged',
      'ABCC7D59-00FC-45DE-995A-296B119583E8',
      '7A5ED21A-36B7-4380-B168-D52EA24F15F1',
      undefined,
      'ProfileList',
    ],
    'ack-profilelist-macos10.11.plist': [
      'Acknowledged',
      PLACEHOLDER,
      PLACEHOLDER,
      'ProfileList',
      'ProfileList',
    ],
    'ack-securityinfo-ios.plist': [
      'Acknowledged',
      '9A105E87-EC35-4F65-A265-423CFB92D624',
      '2ebba8165718f7937db719a7e8fd1db29c86487a',
      undefined,
      'SecurityInfo',
    ],
    'ack-securityinfo-ios9.plist': [
      'Acknowledged',
      PLACEHOLDER,
      '1111111111111111111111111111111111111111',
      undefined,
      'SecurityInfo',
    ],
    'ack-securityinfo-macos10.13.plist': [
      'Acknowledged',
      'bf88d054-bd86-480d-b406-a1bc74a403c0',
      PLACEHOLDER,
      undefined,
      'SecurityInfo',
    ],
    'ack-securityinfo-macos13.plist': [
      'Acknowledged',
      '9A105E87-EC35-4F65-A265-423CFB92D624',
      'F5184311-4FD4-4938-AE07-FE1FBB64AB44',
      undefined,
      'SecurityInfo',
    ],
    'ack-settings-devicename-apple-doc.plist': [
      'Acknowledged',
      '0001_Settings',
      '00008020-6C03E7918E2F9D3E',
      undefined,
      'Settings',
    ],
    'commandformaterror-ios11.plist': [
      'CommandFormatError',
      '52aab5d2-6a61-4fe8-b685-44f8b56972d0',
      IOS11,
      undefined,
    ],
    'error-availableosupdates-two-level-chain-ios11.plist': [
      'Error',
      '93289d88-c8da-4732-9a7e-33dd51851b6e',
      IOS11,
      undefined,
      'ErrorChain',
    ],
    'error-installapplication-already-prompting-ios11.plist': [
      'Error',
      '94ee37e2-3e03-4bdf-ad9c-a81ccc9d78e9',
      IOS11,
      undefined,
      'ErrorChain',
    ],
    'error-invalid-requesttype.plist': ['Error', PLACEHOLDER, PLACEHOLDER, undefined, 'ErrorChain'],
    'error-osstatus-909.plist': [
      'Error',
      'D053EE3A-EE0E-4E82-87D2-BB3624186694',
      '19D4E9CA-A30F-474B-8076-C878881D58B0',
      undefined,
      'ErrorChain',
    ],
    'error-removeprofile-missing-identifier-macos10.12.plist': [
      'Error',
      '93a81e2a-8fbe-4e4b-b6e5-ee9148893f33',
      PLACEHOLDER,
      'RemoveProfile',
      'ErrorChain',
    ],
    'error-removeprofile-not-managed-ios11.plist': [
      'Error',
      'b2da2591-a2e5-45e5-8dd8-0ffb050d8407',
      IOS11,
      undefined,
      'ErrorChain',
    ],
    'idle-ios18-account-driven-user-enrollment.plist': [
      'Idle',
      undefined,
      'C4DE1233-0CEA-4523-8E31-A10D916D2C99',
      undefined,
    ],
    'idle-ipad-hardware-udid.plist': ['Idle', undefined, '00008112-EE5F5DAE42B114E5', undefined],
    'idle-macos.plist': ['Idle', undefined, '680EEC50-473D-4612-9D4C-08EB55BD4677', undefined],
    'notnow-ios11.plist': ['NotNow', 'bb5d7813-e7c3-4279-b954-4b678925de5f', IOS11, undefined],
  };

describe('parseReport on the real captures', () => {
  it('has an expectation for every report fixture', () => {
    expect(listFixtures('report')).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))(
    'reads %s',
    (name, [status, commandUuid, id, requestType, key]) => {
      const parsed = report(name);

      expect(parsed.status).toBe(status);
      expect(parsed.commandUuid).toBe(commandUuid);
      expect(parsed.udid ?? parsed.enrollmentId).toBe(id);
      expect(parsed.requestType).toBe(requestType);
      expect(parsed.problems).toEqual([]);
      if (key !== undefined) expect(Object.keys(parsed.payload)).toContain(key);
    },
  );

  it('reads a negative ErrorCode and a description starting with a space (-909)', () => {
    expect(report('error-osstatus-909.plist').errorChain).toEqual([
      {
        errorCode: -909,
        errorDomain: 'NSOSStatusErrorDomain',
        localizedDescription: ' <NSOSStatusErrorDomain:-909>',
        raw: expect.any(Object),
      },
    ]);
  });

  it('reads a two-level error chain in order', () => {
    const chain = report('error-availableosupdates-two-level-chain-ios11.plist').errorChain ?? [];

    expect(chain.map((item) => [item.errorCode, item.errorDomain])).toEqual([
      [2213, 'DeviceManagement.error'],
      [3, 'com.apple.softwareupdateservices.errors'],
    ]);
    // The capture holds the escape text "\xe2\x80\x99" literally, not a curly quote.
    expect(chain[1]?.localizedDescription).toBe(
      'The operation couldn\\xe2\\x80\\x99t be completed. (com.apple.softwareupdateservices.errors error 3.)',
    );
  });

  it('reads USEnglishDescription with curly quotes and literal backslashes', () => {
    expect(report('error-invalid-requesttype.plist').errorChain?.[0]).toMatchObject({
      errorCode: 12021,
      errorDomain: 'MCMDMErrorDomain',
      usEnglishDescription: '“OSUpdateStatus” is not a valid request type.',
    });
    expect(
      report('error-removeprofile-missing-identifier-macos10.12.plist').errorChain?.[0]
        ?.localizedDescription,
    ).toBe("No \\'Identifier\\' in \\'RemoveProfile\\' command <MDMClientError:97>");
  });

  it('keeps command results in the payload (large capacities, 789 locales)', () => {
    const payload = report('ack-deviceinformation-macos10.13-all-locales.plist').payload;
    const responses = payload['QueryResponses'] as PlistDict;

    expect(responses['Locales']).toHaveLength(789);
    expect(responses['AutoSetupAdminAccounts']).toEqual([]);
    expect(responses['DeviceCapacity']).toBeCloseTo(953.6741180419922, 10);
  });
});

describe('parseReport tolerance (B19)', () => {
  const udid = { UDID: str('UDID-A'), CommandUUID: str('C1') };

  it('accepts an OSUpdateStatus result with a NaN download percentage', () => {
    const parsed = parseReport(
      xmlPlist(
        dictXml({
          ...udid,
          Status: str('Acknowledged'),
          RequestType: str('OSUpdateStatus'),
          OSUpdateStatus:
            '<array><dict><key>DownloadPercentComplete</key><real>nan</real>' +
            '<key>IsDownloaded</key><true/><key>ProductKey</key><string>P</string>' +
            '<key>Status</key><string>Idle</string></dict></array>',
        }),
      ),
    );

    expect(parsed).toMatchObject({ status: 'Acknowledged', commandUuid: 'C1', problems: [] });
  });

  it('accepts integers for reals, dates for strings, strings for booleans and unknown keys', () => {
    const parsed = parseReport(
      xmlPlist(
        dictXml({
          ...udid,
          Status: str('Acknowledged'),
          AvailableOSUpdates:
            '<array><dict><key>DownloadSize</key><integer>538000000</integer></dict></array>',
          LastCloudBackupDate: '<date>2024-01-01T00:00:00Z</date>',
          IsSupervised: str('not supported'),
          SomethingNew: '<dict><key>x</key><array/></dict>',
        }),
      ),
    );

    expect(parsed).toMatchObject({ status: 'Acknowledged', commandUuid: 'C1', problems: [] });
  });

  it('lists mistyped CommandUUID, RequestType and ErrorChain entries without failing', () => {
    const parsed = parseReport(
      xmlPlist(
        dictXml({
          UDID: str('UDID-A'),
          CommandUUID: '<integer>7</integer>',
          RequestType: '<true/>',
          Status: str('Error'),
          ErrorChain:
            '<array><string>oops</string><dict><key>ErrorCode</key><string>12</string>' +
            '<key>ErrorDomain</key><string>D</string></dict><dict/></array>',
        }),
      ),
    );

    expect(parsed.status).toBe('Error');
    expect(parsed.commandUuid).toBeUndefined();
    expect(parsed.errorChain).toEqual([{ errorDomain: 'D', raw: expect.any(Object) }, { raw: {} }]);
    expect(parsed.problems.map((p) => p.key)).toEqual([
      'CommandUUID',
      'RequestType',
      'ErrorChain[0]',
      'ErrorChain[1].ErrorCode',
    ]);
  });

  it('accepts an ErrorChain that is not an array and reports it', () => {
    const parsed = parseReport(
      xmlPlist(dictXml({ ...udid, Status: str('Error'), ErrorChain: str('broken') })),
    );

    expect(parsed.errorChain).toBeUndefined();
    expect(parsed.problems).toEqual([
      { key: 'ErrorChain', reason: 'expected an array, got a string' },
    ]);
  });

  it('keeps an empty CommandUUID and a stray CommandUUID on Idle for the caller to ignore (B17)', () => {
    expect(
      parseReport(
        xmlPlist(dictXml({ UDID: str('U'), CommandUUID: '<string/>', Status: str('Error') })),
      ).commandUuid,
    ).toBe('');
    expect(
      parseReport(
        xmlPlist(dictXml({ UDID: str('U'), CommandUUID: str('STRAY'), Status: str('Idle') })),
      ),
    ).toMatchObject({ status: 'Idle', commandUuid: 'STRAY' });
  });

  it('keeps empty containers as empty values of their type (B20)', () => {
    const parsed = parseReport(
      xmlPlist(
        dictXml({
          ...udid,
          Status: str('Acknowledged'),
          QueryResponses: dictXml({
            MDMOptions: '<dict/>',
            AutoSetupAdminAccounts: '<array/>',
            DeviceName: '<string/>',
            OSVersion: str('17.4'),
          }),
        }),
      ),
    );

    expect(parsed.payload['QueryResponses']).toEqual({
      MDMOptions: {},
      AutoSetupAdminAccounts: [],
      DeviceName: '',
      OSVersion: '17.4',
    });
  });

  it('reads the user-channel identifiers of a report', () => {
    const parsed = parseReport(
      encodePlistBinary({
        UDID: 'UDID-A',
        UserID: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
        UserShortName: 'student1@example.edu',
        Status: 'Idle',
      }),
    );

    expect(parsed).toMatchObject({ udid: 'UDID-A', userShortName: 'student1@example.edu' });
  });

  it('accepts a 5 MB InstalledApplicationList report (B21)', () => {
    const apps = Array.from(
      { length: 9000 },
      (_, i) =>
        `<dict><key>BundleSize</key><integer>${23048830844 + i}</integer><key>Identifier</key>` +
        `<string>com.example.app${i}</string><key>Name</key><string>${'App name '.repeat(40)}</string>` +
        '<key>Installing</key><false/><key>ShortVersion</key><string>1.0</string></dict>',
    ).join('');
    const body = xmlPlist(
      dictXml({
        ...udid,
        Status: str('Acknowledged'),
        InstalledApplicationList: `<array>${apps}</array>`,
      }),
    );

    expect(body.length).toBeGreaterThan(5_000_000);
    expect(body.length).toBeLessThan(8 * 1024 * 1024);

    const parsed = parseReport(body);

    expect(parsed.payload['InstalledApplicationList']).toHaveLength(9000);
  });
});

describe('parseReport rejections', () => {
  it('rejects an unknown Status with REPORT.UNKNOWN_STATUS', () => {
    expectProtocolError(
      () => parseReport(xmlPlist(dictXml({ UDID: str('U'), Status: str('Done') }))),
      'REPORT.UNKNOWN_STATUS',
    );
  });

  it('rejects a missing or mistyped Status with REPORT.MALFORMED', () => {
    expectProtocolError(
      () => parseReport(xmlPlist(dictXml({ UDID: str('U') }))),
      'REPORT.MALFORMED',
    );
    expectProtocolError(
      () => parseReport(xmlPlist(dictXml({ UDID: str('U'), Status: '<true/>' }))),
      'REPORT.MALFORMED',
    );
  });

  it('rejects a report without a device identifier', () => {
    expectProtocolError(
      () => parseReport(xmlPlist(dictXml({ Status: str('Idle') }))),
      'REPORT.MISSING_IDENTIFIER',
    );
    expectProtocolError(
      () => parseReport(xmlPlist(dictXml({ UDID: '<integer>1</integer>', Status: str('Idle') }))),
      'REPORT.MISSING_IDENTIFIER',
    );
  });
});
