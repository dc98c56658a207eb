import { deviceErrorStatus } from './device-http.js';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('deviceErrorStatus', () => {
  it.each([
    ['PLIST.TOO_LARGE', 413],
    ['HTTP.BODY_TOO_LARGE', 413],
    ['PLIST.MALFORMED', 400],
    ['CHECKIN.UNKNOWN_MESSAGE_TYPE', 400],
    ['CHANNEL.MISSING_IDENTIFIER', 400],
    ['REPORT.UNKNOWN_STATUS', 400],
    ['COMMAND.MALFORMED', 400],
    ['PROFILE.MALFORMED', 400],
    ['IDENTITY.SIGNATURE_MISSING', 400],
    ['IDENTITY.CERTIFICATE_UNTRUSTED', 400],
    ['ENROLLMENT.NOT_AUTHENTICATED', 400],
    ['IDENTITY.MATERIAL_INVALID', 500],
    ['BUS.REQUEST_TIMEOUT', 503],
    ['DEPENDENCY.CHECKIN_UNAVAILABLE', 503],
  ])('answers %s with %i', (code, status) => {
    expect(deviceErrorStatus(coded(code))).toEqual({ status, code });
  });

  it('never answers 401, which a device can take as "unenroll me"', () => {
    for (const code of ['IDENTITY.SIGNATURE_INVALID', 'API.UNAUTHORIZED', 'INTERNAL', 'whatever']) {
      expect(deviceErrorStatus(coded(code)).status).not.toBe(401);
    }
  });

  it('treats an error without a code as the server’s fault', () => {
    expect(deviceErrorStatus(new TypeError('x'))).toEqual({ status: 500, code: 'INTERNAL' });
  });
});
