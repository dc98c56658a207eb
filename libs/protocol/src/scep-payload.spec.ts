import {
  buildEnrollmentProfile,
  readEnrollmentProfile,
  type EnrollmentProfileOptions,
} from './enrollment-profile.js';
import { decodePlist, encodePlistBinary } from './plist-codec.js';
import type { PlistDict } from './plist-types.js';
import { type ScepPayloadOptions } from './scep-payload.js';
import { expectProtocolError } from './testing/expect-error.js';

const scep: ScepPayloadOptions = {
  url: 'https://mdm.example.test/mdm/enroll/scep',
  challenge: '8d2f0c3a9e1b4d7f',
  name: 'Example Device CA',
  subject: [[['O', 'Example School']], [['CN', 'device identity 42']]],
};

function options(identity: ScepPayloadOptions = scep): EnrollmentProfileOptions {
  return {
    serverUrl: 'https://mdm.example.test/mdm/server',
    topic: 'com.apple.mgmt.External.TEST-A',
    identity: { scep: identity },
    organization: 'Example School',
    displayName: 'Example enrollment',
    payloadIdentifierPrefix: 'test.example.enroll',
  };
}

function payloads(profile: Buffer): PlistDict[] {
  return (decodePlist(profile) as PlistDict)['PayloadContent'] as PlistDict[];
}

describe('SCEP identity in an enrollment profile', () => {
  it('writes a com.apple.security.scep payload that the MDM payload names', () => {
    const [identity, mdm] = payloads(buildEnrollmentProfile(options()));

    expect(identity).toMatchObject({
      PayloadType: 'com.apple.security.scep',
      PayloadIdentifier: 'test.example.enroll.identity',
      PayloadContent: {
        URL: 'https://mdm.example.test/mdm/enroll/scep',
        Challenge: '8d2f0c3a9e1b4d7f',
        Name: 'Example Device CA',
        Subject: [[['O', 'Example School']], [['CN', 'device identity 42']]],
        Keysize: 2048,
        'Key Type': 'RSA',
        'Key Usage': 5,
      },
    });
    expect(mdm?.['IdentityCertificateUUID']).toBe(identity?.['PayloadUUID']);
  });

  it('reads back what it wrote, from XML and binary plists', () => {
    const xml = buildEnrollmentProfile(options());
    const expected = {
      scep: {
        url: scep.url,
        challenge: scep.challenge,
        name: scep.name,
        subject: scep.subject,
        keySize: 2048,
        keyType: 'RSA',
        keyUsage: 5,
      },
    };

    expect(readEnrollmentProfile(xml).identity).toEqual(expected);
    expect(readEnrollmentProfile(encodePlistBinary(decodePlist(xml))).identity).toEqual(expected);
  });

  it('leaves out the keys it was not given, and reads Apple defaults for them', () => {
    const profile = buildEnrollmentProfile(options({ url: scep.url }));
    const [identity] = payloads(profile);
    const content = identity?.['PayloadContent'] as PlistDict;

    delete content['Keysize'];
    delete content['Key Usage'];
    delete content['Key Type'];
    expect(Object.keys(content)).toEqual(['URL']);
    expect(
      readEnrollmentProfile(encodePlistBinary(decodePlist(profile) as PlistDict)).identity,
    ).toMatchObject({ scep: { url: scep.url, subject: [] } });
  });

  it.each<[string, ScepPayloadOptions]>([
    ['an http URL', { url: 'http://mdm.example.test/scep' }],
    ['no URL at all', { url: 'not a url' }],
    ['a key size Apple does not list', { url: scep.url, keySize: 3072 as 2048 }],
    ['a key usage Apple does not list', { url: scep.url, keyUsage: 2 }],
    ['an empty subject part', { url: scep.url, subject: [[]] }],
    ['a subject pair without a value', { url: scep.url, subject: [[['CN', '']]] }],
  ])('refuses %s with PROFILE.INVALID_ARGUMENT', (_name, identity) => {
    expectProtocolError(
      () => buildEnrollmentProfile(options(identity)),
      'PROFILE.INVALID_ARGUMENT',
    );
  });

  it('takes an http URL for the simulator when insecure URLs are allowed', () => {
    const profile = buildEnrollmentProfile({
      ...options({ url: 'http://127.0.0.1:8080/mdm/enroll/scep' }),
      serverUrl: 'http://127.0.0.1:8080/mdm/server',
      allowInsecureUrls: true,
    });

    expect(readEnrollmentProfile(profile).identity).toMatchObject({
      scep: { url: 'http://127.0.0.1:8080/mdm/enroll/scep' },
    });
  });

  it.each<[string, PlistDict]>([
    ['no URL', { Challenge: 'x' }],
    ['a Subject that is not an array', { URL: scep.url, Subject: 'CN=device' }],
    ['a Subject pair of three strings', { URL: scep.url, Subject: [[['CN', 'a', 'b']]] }],
    ['a Keysize that is not an integer', { URL: scep.url, Keysize: '2048' }],
    ['a Key Type other than RSA', { URL: scep.url, 'Key Type': 'EC' }],
  ])('refuses a payload with %s as PROFILE.MALFORMED', (_name, content) => {
    const profile = decodePlist(buildEnrollmentProfile(options())) as PlistDict;
    const [identity] = profile['PayloadContent'] as PlistDict[];

    (identity as PlistDict)['PayloadContent'] = content;
    expectProtocolError(
      () => readEnrollmentProfile(encodePlistBinary(profile)),
      'PROFILE.MALFORMED',
    );
  });
});
