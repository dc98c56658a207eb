import { resolveChannel, SHARED_IPAD_USER_ID } from './channel.js';
import { parseCheckIn } from './checkin.js';
import { parseReport } from './report.js';
import { expectProtocolError } from './testing/expect-error.js';
import { readFixture } from './testing/fixtures.js';
import { dictXml, xmlPlist } from './testing/xml.js';

const str = (text: string): string => `<string>${text}</string>`;

function sharedIpadTokenUpdate(shortName: string): Buffer {
  return xmlPlist(
    dictXml({
      MessageType: str('TokenUpdate'),
      UDID: str('UDID-A'),
      UserID: str(SHARED_IPAD_USER_ID),
      UserShortName: str(shortName),
      Topic: str('com.apple.mgmt.External.TEST-A'),
      Token: '<data>AAAA</data>',
      PushMagic: str('PM'),
    }),
  );
}

describe('resolveChannel', () => {
  it('keys a device enrollment by UDID on the device channel', () => {
    expect(
      resolveChannel(parseCheckIn(readFixture('checkin', 'tokenupdate-macos10.12.plist'))),
    ).toEqual({
      channel: 'device',
      enrollmentType: 'Device',
      deviceId: '4A5576EB-1427-414E-98EF-4C75764AE05D',
      id: '4A5576EB-1427-414E-98EF-4C75764AE05D',
      isUserEnrollment: false,
    });
  });

  it('keys a macOS user channel by UserID under the device UDID', () => {
    const message = parseCheckIn(
      readFixture('checkin', 'tokenupdate-macos10.12-user-channel.plist'),
    );

    expect(resolveChannel(message)).toEqual({
      channel: 'user',
      enrollmentType: 'User',
      deviceId: '0925BF3C-F0F6-43A3-846E-2289A0C64CCA',
      userKey: '86D1F625-1C2D-41F0-BA60-20D4A9943F05',
      id: '0925BF3C-F0F6-43A3-846E-2289A0C64CCA:86D1F625-1C2D-41F0-BA60-20D4A9943F05',
      isUserEnrollment: false,
    });
  });

  it('gives each Shared iPad user a separate channel keyed by UserShortName (B22 a)', () => {
    const first = resolveChannel(parseCheckIn(sharedIpadTokenUpdate('student1@example.edu')));
    const second = resolveChannel(parseCheckIn(sharedIpadTokenUpdate('student2@example.edu')));

    expect(first).toMatchObject({
      channel: 'user',
      enrollmentType: 'SharedIPad',
      deviceId: 'UDID-A',
      userKey: 'student1@example.edu',
      id: 'UDID-A:student1@example.edu',
    });
    expect(second.id).toBe('UDID-A:student2@example.edu');
    expect(second.deviceId).toBe(first.deviceId);
    expect(resolveChannel({ udid: 'UDID-A' }).id).toBe('UDID-A');
  });

  it('refuses a Shared iPad user message without UserShortName', () => {
    expectProtocolError(
      () => resolveChannel({ udid: 'UDID-A', userId: SHARED_IPAD_USER_ID.toLowerCase() }),
      'CHANNEL.MISSING_IDENTIFIER',
    );
  });

  it('accepts a User Enrollment without UDID and flags it (B22 b)', () => {
    const message = parseCheckIn(
      readFixture('checkin', 'authenticate-ios18-account-driven-user-enrollment.plist'),
    );

    expect(resolveChannel(message)).toEqual({
      channel: 'device',
      enrollmentType: 'UserEnrollmentDevice',
      deviceId: 'C4DE1233-0CEA-4523-8E31-A10D916D2C99',
      id: 'C4DE1233-0CEA-4523-8E31-A10D916D2C99',
      isUserEnrollment: true,
    });
    expect(
      resolveChannel(
        parseReport(readFixture('report', 'idle-ios18-account-driven-user-enrollment.plist')),
      ),
    ).toMatchObject({ isUserEnrollment: true, deviceId: 'C4DE1233-0CEA-4523-8E31-A10D916D2C99' });
  });

  it('keys a User Enrollment user channel by EnrollmentUserID', () => {
    expect(resolveChannel({ enrollmentId: 'ENR-1', enrollmentUserId: 'EU-1' })).toEqual({
      channel: 'user',
      enrollmentType: 'UserEnrollment',
      deviceId: 'ENR-1',
      userKey: 'EU-1',
      id: 'ENR-1:EU-1',
      isUserEnrollment: true,
    });
  });

  it('prefers UDID over EnrollmentID when both are present', () => {
    expect(resolveChannel({ udid: 'UDID-A', enrollmentId: 'ENR-1' })).toMatchObject({
      deviceId: 'UDID-A',
      isUserEnrollment: false,
    });
  });

  it('refuses a message with no identifier (B22 c)', () => {
    expectProtocolError(() => resolveChannel({}), 'CHANNEL.MISSING_IDENTIFIER');
    expectProtocolError(
      () => resolveChannel({ udid: '', userId: 'U' }),
      'CHANNEL.MISSING_IDENTIFIER',
    );
  });
});
