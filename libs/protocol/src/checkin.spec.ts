import {
  CHECKIN_MESSAGE_TYPES,
  parseCheckIn,
  type AuthenticateMessage,
  type CheckInMessage,
  type TokenUpdateMessage,
} from './checkin.js';
import { encodePlistBinary } from './plist-codec.js';
import { expectProtocolError } from './testing/expect-error.js';
import { listFixtures, readFixture } from './testing/fixtures.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const fixture = (name: string): CheckInMessage => parseCheckIn(readFixture('checkin', name));

function checkIn(entries: Record<string, string>): CheckInMessage {
  return parseCheckIn(xmlPlist(dictXml(entries)));
}

const str = (text: string): string => `<string>${text}</string>`;

describe('parseCheckIn on the real captures', () => {
  it('parses every check-in fixture into a known message type', () => {
    const names = listFixtures('checkin');

    expect(names).toHaveLength(11);
    for (const name of names) {
      expect(CHECKIN_MESSAGE_TYPES).toContain(fixture(name).messageType);
    }
  });

  it('reads an account-driven User Enrollment Authenticate (EnrollmentID, no UDID, no serial)', () => {
    const message = fixture('authenticate-ios18-account-driven-user-enrollment.plist');

    expect(message).toMatchObject({
      messageType: 'Authenticate',
      enrollmentId: 'C4DE1233-0CEA-4523-8E31-A10D916D2C99',
      topic: 'com.apple.mgmt.External.dceeefff-c790-41b8-8fb2-13b10bba427c',
      osVersion: '18.2.1',
      buildVersion: '22C161',
      productName: 'iPhone12,1',
    });
    expect(message.udid).toBeUndefined();
    expect((message as AuthenticateMessage).serialNumber).toBeUndefined();
  });

  it('reads an iOS 9 Authenticate with a 40-hex UDID', () => {
    expect(fixture('authenticate-ios9-ipad-40hex-udid.plist')).toEqual({
      messageType: 'Authenticate',
      udid: '4f7704fbd9845f724ddf8ca6570e6360a15b78ee',
      topic: 'com.apple.mgmt.External.85fb16c6-c14e-4c73-8ee8-abc70a11be88',
      buildVersion: '13G36',
      osVersion: '9.3.5',
      productName: 'iPad2,5',
      serialNumber: 'T8BS101BM516',
      raw: expect.objectContaining({ MessageType: 'Authenticate' }),
    });
  });

  it('reads the macOS-only Authenticate keys and keeps the undocumented Challenge in raw', () => {
    const message = fixture('authenticate-macos10.12-imac.plist') as AuthenticateMessage;

    expect(message).toMatchObject({
      deviceName: 'Melon',
      model: 'iMac14,2',
      modelName: 'iMac',
      serialNumber: 'C76XG14RZXUJ',
      udid: '4A5576EB-1427-414E-98EF-4C75764AE05D',
    });
    expect(Buffer.from(message.raw['Challenge'] as Uint8Array).toString()).toBe('apple');
    expect(fixture('authenticate-macos10.13-mbp.plist')).toMatchObject({
      modelName: 'MacBook Pro',
      osVersion: '10.13.6',
    });
  });

  it('reads a CheckOut', () => {
    expect(fixture('checkout-macos10.13.plist')).toMatchObject({
      messageType: 'CheckOut',
      udid: '236BDBAB-FC14-48E6-894B-D644BC3E5829',
      topic: 'com.apple.mgmt.External.0c36aa46-21f6-44e8-bf2b-565764d2d658',
    });
  });

  it('reads a DeclarativeManagement status check-in and its JSON data', () => {
    const message = fixture('declarativemanagement-status-ios-jamf-school.plist');

    expect(message.messageType).toBe('DeclarativeManagement');
    if (message.messageType !== 'DeclarativeManagement') return;
    expect(message.endpoint).toBe('status');
    expect(message.udid).toBe('00008112-EE5F5DAE42B114E5');
    expect(JSON.parse(Buffer.from(message.data ?? []).toString())).toEqual({
      StatusItems: { passcode: { 'is-compliant': true } },
      Errors: [],
    });
  });

  it('reads a TokenUpdate with a wrapped 1288-byte UnlockToken', () => {
    const message = fixture('tokenupdate-ios9-with-unlocktoken.plist') as TokenUpdateMessage;

    expect(message.messageType).toBe('TokenUpdate');
    expect(message.token).toHaveLength(32);
    expect(Buffer.from(message.token).toString('base64')).toBe(
      'mIhEPDHVKBEUa3gRKCItLOXoIUbERCUNCP/2qstlzSo=',
    );
    expect(message.unlockToken).toHaveLength(1288);
    expect(
      Buffer.from(message.unlockToken ?? [])
        .subarray(0, 4)
        .toString(),
    ).toBe('DATA');
    expect(message.pushMagic).toBe('6DFDA6F3-1856-4F7F-BDBD-8DEA17D115D0');
    expect(message.awaitingConfiguration).toBe(false);
  });

  it('reads TokenUpdates without UnlockToken', () => {
    for (const name of ['tokenupdate-macos10.12.plist', 'tokenupdate-macos-2023-nanocmd.plist']) {
      const message = fixture(name) as TokenUpdateMessage;

      expect(message.token).toHaveLength(32);
      expect(message.unlockToken).toBeUndefined();
      expect(message.awaitingConfiguration).toBe(false);
    }
  });

  it('reads a user-channel TokenUpdate: 37-byte token, user keys, no AwaitingConfiguration', () => {
    const message = fixture('tokenupdate-macos10.12-user-channel.plist') as TokenUpdateMessage;

    expect(message).toMatchObject({
      udid: '0925BF3C-F0F6-43A3-846E-2289A0C64CCA',
      userId: '86D1F625-1C2D-41F0-BA60-20D4A9943F05',
      userShortName: 'jsmy',
      userLongName: 'Jordan Smyth',
      notOnConsole: false,
      awaitingConfiguration: false,
      topic: 'com.apple.mgmt.commandment.dev',
    });
    expect(message.token).toHaveLength(37);
  });

  it('reads a UserAuthenticate first round (trailing space after a value)', () => {
    expect(fixture('userauthenticate-initial-apple-doc.plist')).toMatchObject({
      messageType: 'UserAuthenticate',
      udid: 'B3BFD139-0C54-4517-923C-222D671D0425',
      userId: '61211AC9-C188-4B95-B6FC-DEAED7D0118E',
    });
  });
});

describe('parseCheckIn on synthetic messages', () => {
  const udid = { UDID: str('UDID-A') };

  it('tells a stored bootstrap token from an empty and a missing one (B09)', () => {
    const stored = checkIn({
      ...udid,
      MessageType: str('SetBootstrapToken'),
      AwaitingConfiguration: '<true/>',
      BootstrapToken: '<data>AAECAw==</data>',
    });
    const empty = checkIn({
      ...udid,
      MessageType: str('SetBootstrapToken'),
      BootstrapToken: '<data/>',
    });
    const missing = checkIn({ ...udid, MessageType: str('SetBootstrapToken') });

    expect(stored).toMatchObject({
      bootstrapToken: { action: 'store', token: new Uint8Array([0, 1, 2, 3]) },
      awaitingConfiguration: true,
    });
    expect(empty).toMatchObject({ bootstrapToken: { action: 'remove', reason: 'empty' } });
    expect(missing).toMatchObject({
      bootstrapToken: { action: 'remove', reason: 'absent' },
      awaitingConfiguration: false,
    });
  });

  it('reads GetBootstrapToken, ReturnToService and GetToken', () => {
    expect(
      checkIn({ ...udid, MessageType: str('GetBootstrapToken'), AwaitingConfiguration: '<true/>' }),
    ).toMatchObject({ messageType: 'GetBootstrapToken', awaitingConfiguration: true });
    expect(checkIn({ ...udid, MessageType: str('ReturnToService') })).toEqual({
      messageType: 'ReturnToService',
      udid: 'UDID-A',
      raw: { MessageType: 'ReturnToService', UDID: 'UDID-A' },
    });
    expect(
      checkIn({
        ...udid,
        MessageType: str('GetToken'),
        TokenServiceType: str('com.apple.watch.pairing'),
        TokenParameters: dictXml({ PhoneUDID: str('P'), WatchUDID: str('W') }),
      }),
    ).toMatchObject({
      messageType: 'GetToken',
      tokenServiceType: 'com.apple.watch.pairing',
      tokenParameters: { phoneUdid: 'P', watchUdid: 'W' },
    });
  });

  it('parses empty Authenticate strings as "" and keeps later keys (B20)', () => {
    expect(
      checkIn({
        ...udid,
        BuildVersion: '<string/>',
        DeviceName: '<string></string>',
        MessageType: str('Authenticate'),
        OSVersion: str('17.4'),
        ProductName: str('iPad14,1'),
        SerialNumber: str('SERIAL-01'),
        Topic: str('com.apple.mgmt.External.TEST-A'),
      }),
    ).toMatchObject({
      buildVersion: '',
      deviceName: '',
      osVersion: '17.4',
      productName: 'iPad14,1',
      serialNumber: 'SERIAL-01',
    });
  });

  it('accepts a binary plist check-in', () => {
    const body = encodePlistBinary({
      MessageType: 'TokenUpdate',
      UDID: 'UDID-A',
      Topic: 'com.apple.mgmt.External.TEST-A',
      Token: new Uint8Array(32).fill(7),
      PushMagic: 'PM',
      AwaitingConfiguration: true,
    });

    expect(parseCheckIn(body)).toMatchObject({
      messageType: 'TokenUpdate',
      awaitingConfiguration: true,
    });
  });

  it('ignores mistyped informational keys but keeps them in raw', () => {
    const message = checkIn({
      ...udid,
      MessageType: str('Authenticate'),
      Topic: str('com.apple.mgmt.External.TEST-A'),
      OSVersion: '<integer>17</integer>',
    });

    expect((message as AuthenticateMessage).osVersion).toBeUndefined();
    expect(message.raw['OSVersion']).toBe(17);
  });

  it('rejects an unknown MessageType with CHECKIN.UNKNOWN_MESSAGE_TYPE', () => {
    const error = expectProtocolError(
      () => checkIn({ ...udid, MessageType: str('Enroll') }),
      'CHECKIN.UNKNOWN_MESSAGE_TYPE',
    );

    expect(error.message).toContain('"Enroll"');
  });

  it('rejects a missing or mistyped MessageType with CHECKIN.MALFORMED', () => {
    expectProtocolError(() => checkIn({ ...udid }), 'CHECKIN.MALFORMED');
    expectProtocolError(
      () => checkIn({ ...udid, MessageType: '<integer>1</integer>' }),
      'CHECKIN.MALFORMED',
    );
  });

  it('rejects mistyped keys the server relies on with CHECKIN.MALFORMED', () => {
    const base = { ...udid, MessageType: str('TokenUpdate'), Topic: str('t'), PushMagic: str('p') };

    expectProtocolError(() => checkIn({ ...base, Token: str('AAAA') }), 'CHECKIN.MALFORMED');
    expectProtocolError(() => checkIn({ ...base }), 'CHECKIN.MALFORMED');
    expectProtocolError(
      () => checkIn({ ...base, Token: '<data>AA==</data>', AwaitingConfiguration: str('yes') }),
      'CHECKIN.MALFORMED',
    );
    expectProtocolError(
      () => checkIn({ UDID: '<integer>5</integer>', MessageType: str('CheckOut') }),
      'CHECKIN.MALFORMED',
    );
    expectProtocolError(
      () => checkIn({ ...udid, MessageType: str('SetBootstrapToken'), BootstrapToken: str('tok') }),
      'CHECKIN.MALFORMED',
    );
  });

  it('rejects a check-in with neither UDID nor EnrollmentID (B22 c)', () => {
    expectProtocolError(
      () =>
        checkIn({ MessageType: str('Authenticate'), Topic: str('com.apple.mgmt.External.TEST-A') }),
      'CHECKIN.MISSING_IDENTIFIER',
    );
    expectProtocolError(
      () => checkIn({ MessageType: str('CheckOut'), UDID: '<string/>' }),
      'CHECKIN.MISSING_IDENTIFIER',
    );
  });
});
